"""The shared level's case store: cases visit it while the district handles them.

With street partitions (issue 18) the district centre and the departments are simulated once,
on the shared level. A street partition hands an escalated case up as it stands; the shared
level's engine runs the district's steps on that copy and records them, and the partition
applies the recorded events to its own case (:meth:`twin.model.flow.CaseFlow.take_back`), so
the case's one audit trail holds every step with its real time. The copy leaves again when
the district's result is handed back.
"""

from __future__ import annotations

from twin.engine import MemoryStore
from twin.engine.store import IdempotencyRecord
from twin.engine.types import ACTIVE_STATES, Case, Event


class VisitStore(MemoryStore):
    """A :class:`MemoryStore` whose cases arrive from elsewhere (:meth:`adopt`) and leave
    (:meth:`leave`); it notes which cases changed (:attr:`changed`, in order of first change)
    so the shared level can hand their new events back window by window."""

    def __init__(self) -> None:
        super().__init__(keep_events=True, threadsafe=False)
        self.changed: dict[str, None] = {}

    def adopt(self, case: Case) -> None:
        """Take ``case`` (a copy of a partition's case) onto the store as it is."""
        self._cases[case.id] = case
        if case.state in ACTIVE_STATES:
            self._active[case.id] = case

    def _commit(
        self, case: Case, event: Event, idempotency: IdempotencyRecord | None = None, contact: str | None = None
    ) -> None:
        super()._commit(case, event, idempotency, contact)
        self.changed[case.id] = None

    def take_events(self, case_id: str) -> list[Event]:
        """The events recorded for ``case_id`` since the last call (forgotten here)."""
        self.changed.pop(case_id, None)
        self._events.clear()  # nothing reads the shared level's log as a whole
        return self._by_case.pop(case_id, [])

    def leave(self, case_id: str) -> None:
        """The case leaves the shared level (its result has been handed back)."""
        self._cases.pop(case_id, None)
        self._active.pop(case_id, None)
        self._by_case.pop(case_id, None)
        self.changed.pop(case_id, None)
