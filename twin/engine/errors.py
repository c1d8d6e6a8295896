"""Typed errors of the case engine.

Every error leaves the engine unchanged: the engine validates before it writes, and
storage writes a transition and its audit record in one transaction.
"""

from __future__ import annotations


class EngineError(Exception):
    """Base class of every error the engine raises on purpose."""


class CaseNotFound(EngineError):
    def __init__(self, case_id: str) -> None:
        super().__init__(f"no case {case_id!r}")
        self.case_id = case_id


class IllegalTransition(EngineError):
    """The action is not allowed from the case's current state (or at its level)."""

    def __init__(self, action: str, state: str, reason: str = "") -> None:
        action, state = str(action), str(state)  # plain names, also for StrEnum members
        msg = f"illegal transition {action!r} from state {state!r}"
        if reason:
            msg += f": {reason}"
        super().__init__(msg)
        self.action = action
        self.state = state
        self.reason = reason


class VersionConflict(EngineError):
    """The caller's expected version is stale: somebody else changed the case first."""

    def __init__(self, case_id: str, expected: int, actual: int) -> None:
        super().__init__(f"case {case_id!r} is at version {actual}, not {expected}")
        self.case_id = case_id
        self.expected = expected
        self.actual = actual


class IdempotencyConflict(EngineError):
    """An idempotency key was reused with a different payload."""

    def __init__(self, key: str, case_id: str) -> None:
        super().__init__(f"idempotency key {key!r} was already used for case {case_id!r} with a different payload")
        self.key = key
        self.case_id = case_id


class InvalidInput(EngineError):
    """A value the caller gave is outside what the engine accepts (names the field)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class DuplicateKey(EngineError):
    """Storage refused a second row for a unique key (a case id or an idempotency key)."""

    def __init__(self, what: str, key: str) -> None:
        super().__init__(f"duplicate {what} {key!r}")
        self.what = what
        self.key = key


class StoreError(EngineError):
    """Storage cannot be used as asked (a file that is not a database, a newer schema, a closed store)."""
