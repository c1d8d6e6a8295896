"""The reference case engine: pure domain logic, clock injected, storage behind one interface."""

from twin.engine.engine import CaseEngine, Clock, fingerprint
from twin.engine.errors import (
    CaseNotFound,
    DuplicateKey,
    EngineError,
    IdempotencyConflict,
    IllegalTransition,
    InvalidInput,
    StoreError,
    VersionConflict,
)
from twin.engine.memory import MemoryStore
from twin.engine.sla import SlaPolicy, TierRule
from twin.engine.sqlite import SQLiteStore
from twin.engine.store import CaseQuery, IdempotencyRecord, Store
from twin.engine.supervision import Supervisor
from twin.engine.types import (
    ACTIVE_STATES,
    TERMINAL_STATES,
    Action,
    Case,
    Event,
    Level,
    Notice,
    Place,
    Source,
    State,
)
from twin.engine.worktime import ClockKind, WorkTime

__all__ = [
    "ACTIVE_STATES",
    "TERMINAL_STATES",
    "Action",
    "Case",
    "CaseEngine",
    "CaseNotFound",
    "CaseQuery",
    "ClockKind",
    "Clock",
    "DuplicateKey",
    "EngineError",
    "Event",
    "IdempotencyConflict",
    "IdempotencyRecord",
    "IllegalTransition",
    "InvalidInput",
    "Level",
    "MemoryStore",
    "Notice",
    "Place",
    "SlaPolicy",
    "SQLiteStore",
    "Source",
    "State",
    "StoreError",
    "Store",
    "Supervisor",
    "TierRule",
    "VersionConflict",
    "WorkTime",
    "fingerprint",
]
