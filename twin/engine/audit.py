"""Folding the audit log: the stored picture of a case must equal the replay of its events."""

from __future__ import annotations

from collections.abc import Iterable

from twin.engine.transitions import apply, new_case
from twin.engine.types import Action, Case, Event


class AuditMismatch(AssertionError):
    """The audit log does not reproduce a stored case."""


def fold(events: Iterable[Event]) -> Case | None:
    """Replay one case's events (REPORT first) into the case they describe."""
    case: Case | None = None
    for e in events:
        if e.action is Action.REPORT:
            if case is not None:
                raise AuditMismatch(f"case {e.case_id}: a second REPORT event at version {e.version}")
            case = new_case(e)
            continue
        if case is None:
            raise AuditMismatch(f"case {e.case_id}: event {e.action} before its REPORT")
        if e.version != case.version + 1 or e.from_state != case.state:
            raise AuditMismatch(
                f"case {e.case_id}: event v{e.version} {e.action} from {e.from_state} "
                f"does not follow v{case.version} in {case.state}"
            )
        apply(case, e)
    return case


def verify_case(stored: Case, events: Iterable[Event]) -> None:
    """Raise AuditMismatch unless folding ``events`` gives exactly ``stored``."""
    replayed = fold(events)
    if replayed is None:
        raise AuditMismatch(f"case {stored.id}: no events")
    a, b = replayed.to_dict(), stored.to_dict()
    if a != b:
        diff = {k: (a[k], b[k]) for k in a if a[k] != b.get(k)}
        raise AuditMismatch(f"case {stored.id}: fold differs from stored (fold, stored): {diff}")
