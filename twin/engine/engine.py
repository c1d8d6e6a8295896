"""CaseEngine: the closed loop of 事件处置 — report, accept, dispatch, handle, resolve,
verify, close, evaluate — with the escalation ladder, SLA timers and idempotent reporting.

The engine is pure domain logic: it reads time only from the injected ``clock`` (SimPy's
``env.now`` in the simulation, wall time in the service), never imports the simulation,
and reaches storage only through :class:`~twin.engine.store.Store`.
"""

from __future__ import annotations

import hashlib
import heapq
import inspect
import json
import threading
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any

from twin.engine.errors import (
    CaseNotFound,
    DuplicateKey,
    IdempotencyConflict,
    IllegalTransition,
    InvalidInput,
    VersionConflict,
)
from twin.engine.sla import SlaPolicy
from twin.engine.store import CaseQuery, IdempotencyRecord, Store
from twin.engine.transitions import TRANSITIONS, new_case
from twin.engine.types import ACTIVE_STATES, Action, Case, Event, Level, Place, Source, State

Clock = Callable[[], float]
"""Returns the current time in minutes (any fixed epoch; the service uses the Unix epoch)."""

#: Satisfaction (1–5) → coefficient for volunteers' service points (一事一评: hours × rating
#: coefficient, Wuhan 双报到 practice). The coefficients themselves are assumed.
DEFAULT_RATING_COEFFICIENTS: Mapping[int, float] = {1: 0.0, 2: 0.5, 3: 0.8, 4: 1.0, 5: 1.2}
#: An evaluation at or below this score is "unsatisfied" and reopens the case once.
UNSATISFIED_AT_OR_BELOW = 2
SYSTEM_ACTOR = "system"


def _uuid() -> str:
    return str(uuid.uuid4())


def fingerprint(payload: Mapping[str, Any]) -> str:
    """A stable hash of a report's payload, to tell a retry from a different request."""
    blob = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


class CaseEngine:
    """The reference case engine.

    Every public change method takes the version the caller expects the case to be at
    and returns the case after the change. Errors (:mod:`twin.engine.errors`) leave
    everything unchanged.
    """

    def __init__(
        self,
        store: Store,
        clock: Clock,
        sla: SlaPolicy | None = None,
        id_factory: Callable[[], str] = _uuid,
        rating_coefficients: Mapping[int, float] = DEFAULT_RATING_COEFFICIENTS,
        auto_escalate: bool = False,
    ) -> None:
        self.store = store
        self.clock = clock
        self.sla = sla or SlaPolicy()
        self.id_factory = id_factory
        self.rating_coefficients = dict(rating_coefficients)
        self.auto_escalate = auto_escalate
        self.mode = "normal"
        self._timers: list[tuple[float, int, str, float]] = []
        self._timer_seq = 0
        self._timer_lock = threading.Lock()
        # the store's lock, held around each check-and-commit; None: the store is single-threaded
        self._lock: AbstractContextManager[Any] | None = getattr(store, "lock", None)
        self._commit_change: Callable[..., None] | None = getattr(store, "commit_change", None)
        if auto_escalate:
            for case in store.active_cases():
                self._schedule(case)

    # ------------------------------------------------------------------ report
    def report(
        self,
        *,
        category: str,
        tier: str,
        place: Place,
        source: Source | str,
        reporter: str | None = None,
        description: str = "",
        lat: float | None = None,
        lon: float | None = None,
        level: Level | int = Level.GRID,
        actor: str = "",
        idempotency_key: str | None = None,
        case_id: str | None = None,
        contact: str | None = None,
    ) -> Case:
        """Open a case. With ``idempotency_key``, a retry with the same payload returns the
        original case; the same key with another payload raises IdempotencyConflict.

        ``case_id``: the id to give a new case (a caller that named it beforehand, e.g. in its
        own idempotency claim); default a new one from ``id_factory``. ``contact``: the
        reporter's contact, stored with the case in its transaction, never in its events."""
        if source.__class__ is not Source:
            try:
                source = Source(source)
            except ValueError:
                raise InvalidInput(
                    "source", f"unknown source {source!r}; expected one of {[s.value for s in Source]}"
                ) from None
        if level.__class__ is not Level:
            try:
                level = Level(level)
            except ValueError:
                raise InvalidInput("level", f"expected 0..3, got {level!r}") from None
        if not category:
            raise InvalidInput("category", "must not be empty")
        rule = self.sla.rule(tier)
        payload: dict[str, Any] = {
            "category": category,
            "tier": tier,
            "grid": place.grid,
            "community": place.community,
            "street": place.street,
            "district": place.district,
            "source": source.value,
            "reporter": reporter,
            "description": description,
            "lat": lat,
            "lon": lon,
            "level": int(level),
        }
        idem: IdempotencyRecord | None = None
        if idempotency_key is not None:
            fp = fingerprint(payload)
            found = self._replay(idempotency_key, fp)
            if found is not None:
                return found
            idem = IdempotencyRecord(idempotency_key, fp, "")
        now = self.clock()
        if case_id is None:
            case_id = self.id_factory()
        payload["due_at"] = self.sla.due_at(tier, now)
        if rule.done_by != "resolve":
            payload["done_by"] = rule.done_by
        event = Event(case_id, 1, Action.REPORT, None, State.REPORTED, now, actor or str(source), self.mode, payload)
        case = new_case(event, place if place.__class__ is Place else None)
        if idem is not None:
            idem = IdempotencyRecord(idem.key, idem.fingerprint, case_id)
        try:
            self.store.commit(case, event, idem, contact)
        except DuplicateKey as exc:
            if idem is None or exc.what != "idempotency key":
                raise
            found = self._replay(idem.key, idem.fingerprint)  # another process won the race
            if found is None:
                raise
            return found
        self._schedule(case)
        return case

    def _replay(self, key: str, fp: str) -> Case | None:
        rec = self.store.find_idempotency(key)
        if rec is None:
            return None
        if rec.fingerprint != fp:
            raise IdempotencyConflict(key, rec.case_id)
        case = self.store.get(rec.case_id)
        if case is None:  # pragma: no cover - storage inconsistency
            raise CaseNotFound(rec.case_id)
        return case

    # ------------------------------------------------------------- transitions
    def accept(self, case_id: str, version: int, actor: str) -> Case:
        return self._do(case_id, version, Action.ACCEPT, actor, {})

    def reject(self, case_id: str, version: int, actor: str, reason: str = "") -> Case:
        return self._do(case_id, version, Action.REJECT, actor, {"reason": reason})

    def merge(self, case_id: str, version: int, actor: str, into: str) -> Case:
        """Close a case as a duplicate of ``into`` (合并重复件)."""
        if into == case_id:
            raise InvalidInput("into", "a case cannot be merged into itself")
        target = self.store.get(into)
        if target is None:
            raise InvalidInput("into", f"no case {into!r}")
        if target.state is State.MERGED:
            raise InvalidInput("into", f"case {into!r} is itself merged into {target.merged_into!r}")
        return self._do(case_id, version, Action.MERGE, actor, {"into": into})

    def dispatch(self, case_id: str, version: int, actor: str, assignees: Sequence[str]) -> Case:
        """Send the case to a worker, a board (板块) or departments (吹哨派单)."""
        names = _assignees(assignees)
        return self._do(case_id, version, Action.DISPATCH, actor, {"assignees": list(names)})

    def start(self, case_id: str, version: int, actor: str) -> Case:
        return self._do(case_id, version, Action.START, actor, {})

    def resolve(
        self,
        case_id: str,
        version: int,
        actor: str,
        note: str = "",
        volunteer: str | None = None,
        service_hours: float | None = None,
    ) -> Case:
        """Mark the case handled; a volunteer's service hours earn points at evaluation."""
        data: dict[str, Any] = {"by": actor}
        if note:
            data["note"] = note
        if volunteer is not None:
            if service_hours is None or not service_hours >= 0:
                raise InvalidInput("service_hours", "a volunteer's resolution needs service hours ≥ 0")
            data["volunteer"] = volunteer
            data["service_hours"] = float(service_hours)
        return self._do(case_id, version, Action.RESOLVE, actor, data)

    def verify(self, case_id: str, version: int, actor: str, passed: bool = True, note: str = "") -> Case:
        """Check the resolution on site; a failed check reopens the case for rework."""
        action = Action.VERIFY if passed else Action.FAIL_VERIFICATION
        return self._do(case_id, version, action, actor, {"note": note} if note else {})

    def close(self, case_id: str, version: int, actor: str) -> Case:
        return self._do(case_id, version, Action.CLOSE, actor, {})

    def evaluate(self, case_id: str, version: int, actor: str, satisfaction: int) -> Case:
        """Record satisfaction 1–5. An unsatisfied score (≤ 2) reopens the case, once; a
        volunteer's resolution earns service points = service hours × the rating's coefficient."""
        if isinstance(satisfaction, bool) or not isinstance(satisfaction, int) or not 1 <= satisfaction <= 5:
            raise InvalidInput("satisfaction", f"expected an integer 1..5, got {satisfaction!r}")

        def decide(case: Case, now: float) -> tuple[Action, dict[str, Any]]:
            if satisfaction <= UNSATISFIED_AT_OR_BELOW and not case.reopened_by_evaluation:
                return Action.REOPEN, {"satisfaction": satisfaction}
            data: dict[str, Any] = {"satisfaction": satisfaction}
            if case.volunteer is not None and case.service_hours is not None:
                data["points"] = round(case.service_hours * self.rating_coefficients.get(satisfaction, 0.0), 6)
            return Action.EVALUATE, data

        return self._do(case_id, version, Action.EVALUATE, actor, None, decide)

    def escalate(self, case_id: str, version: int, actor: str, reason: str = "") -> Case:
        """Move the case one rung up the ladder (grid → community → street → district)."""

        def decide(case: Case, now: float) -> tuple[Action, dict[str, Any]]:
            if case.level >= Level.DISTRICT:
                raise IllegalTransition(
                    Action.ESCALATE, case.state, "already at the district centre, the top of the ladder"
                )
            return Action.ESCALATE, {"level": int(case.level) + 1, "reason": reason}

        return self._do(case_id, version, Action.ESCALATE, actor, None, decide)

    def return_for_rework(self, case_id: str, version: int, actor: str, reason: str = "") -> Case:
        """Send the case one rung down the ladder, back to the level below (退回重办)."""

        def decide(case: Case, now: float) -> tuple[Action, dict[str, Any]]:
            if case.level <= Level.GRID:
                raise IllegalTransition(Action.RETURN, case.state, "already at grid level, the bottom of the ladder")
            return Action.RETURN, {"level": int(case.level) - 1, "reason": reason}

        return self._do(case_id, version, Action.RETURN, actor, None, decide)

    def decline(self, case_id: str, version: int, actor: str, reason: str = "") -> Case:
        """A handler hands a dispatched case back to the dispatcher at the same level (退单)."""
        return self._do(case_id, version, Action.DECLINE, actor, {"reason": reason})

    # ------------------------------------------------------------ time rules
    def extend(self, case_id: str, version: int, actor: str, minutes: float, reason: str) -> Case:
        """The handler asks for ``minutes`` more (in the matter's clock) with a reason (延期申请)."""
        _positive("minutes", minutes)
        if not reason or not reason.strip():
            raise InvalidInput("reason", "an extension request needs a reason")

        def decide(case: Case, now: float) -> tuple[Action, dict[str, Any]]:
            if case.unit_due_at is None:
                raise IllegalTransition(Action.EXTEND, case.state, "no unit time limit is running")
            if case.extension_pending is not None:
                raise IllegalTransition(Action.EXTEND, case.state, "an extension request is already pending")
            return Action.EXTEND, {"minutes": float(minutes), "reason": reason}

        return self._do(case_id, version, Action.EXTEND, actor, None, decide)

    def approve_extension(self, case_id: str, version: int, actor: str, minutes: float | None = None) -> Case:
        """The dispatching level grants the pending request (or ``minutes`` of it): the unit's and
        the end-to-end due times move by that much of the matter's clock."""
        if minutes is not None:
            _positive("minutes", minutes)

        def decide(case: Case, now: float) -> tuple[Action, dict[str, Any]]:
            pending = case.extension_pending
            if pending is None or case.unit_due_at is None:
                raise IllegalTransition(Action.APPROVE_EXTENSION, case.state, "no extension request is pending")
            granted = pending if minutes is None else min(float(minutes), pending)
            rule = self.sla.rule(case.tier)
            return Action.APPROVE_EXTENSION, {
                "minutes": granted,
                "unit_due_at": self.sla.add(rule, case.unit_due_at, granted),
                "due_at": self.sla.add(rule, case.due_at, granted),
            }

        return self._do(case_id, version, Action.APPROVE_EXTENSION, actor, None, decide)

    def refuse_extension(self, case_id: str, version: int, actor: str, reason: str = "") -> Case:
        """The dispatching level refuses the pending request; the limit stands."""

        def decide(case: Case, now: float) -> tuple[Action, dict[str, Any]]:
            if case.extension_pending is None:
                raise IllegalTransition(Action.REFUSE_EXTENSION, case.state, "no extension request is pending")
            return Action.REFUSE_EXTENSION, {"reason": reason}

        return self._do(case_id, version, Action.REFUSE_EXTENSION, actor, None, decide)

    def suspend(self, case_id: str, version: int, actor: str, reason: str) -> Case:
        """Put the case on hold (挂账) while it waits on something outside the unit; clocks stop."""
        if not reason or not reason.strip():
            raise InvalidInput("reason", "a suspension needs a reason")
        return self._do(case_id, version, Action.SUSPEND, actor, {"reason": reason})

    def resume(self, case_id: str, version: int, actor: str) -> Case:
        """End a suspension: the unit's and the end-to-end due times move by the time it lasted."""

        def decide(case: Case, now: float) -> tuple[Action, dict[str, Any]]:
            if case.suspended_at is None:
                raise IllegalTransition(Action.RESUME, case.state, "the case is not suspended")
            rule = self.sla.rule(case.tier)
            held = self.sla.elapsed(rule, case.suspended_at, now)
            unit_due = None if case.unit_due_at is None else self.sla.add(rule, case.unit_due_at, held)
            return Action.RESUME, {
                "suspended_minutes": held,
                "unit_due_at": unit_due,
                "due_at": self.sla.add(rule, case.due_at, held),
            }

        return self._do(case_id, version, Action.RESUME, actor, None, decide)

    def reassign(self, case_id: str, version: int, actor: str, assignees: Sequence[str], reason: str = "") -> Case:
        """The dispatcher moves the case to other assignee(s) (改派); their own limit starts and the
        wrong dispatch is counted."""
        names = _assignees(assignees)

        def decide(case: Case, now: float) -> tuple[Action, dict[str, Any]]:
            if set(names) == set(case.assignees):
                raise InvalidInput("assignees", f"the case is already with {list(case.assignees)}")
            return Action.REASSIGN, {"assignees": list(names), "reason": reason}

        return self._do(case_id, version, Action.REASSIGN, actor, None, decide)

    def reply(self, case_id: str, version: int, actor: str, text: str = "") -> Case:
        """Answer the reporter (答复); for reply matters this is what must happen within the limit."""
        return self._do(case_id, version, Action.REPLY, actor, {"text": text} if text else {})

    def warn(self, case_id: str, version: int, actor: str, color: str) -> Case:
        """Issue a yellow or red warning (督办) on the unit handling the case."""
        if color not in ("yellow", "red"):
            raise InvalidInput("color", f"expected 'yellow' or 'red', got {color!r}")
        return self._do(case_id, version, Action.WARN, actor, {"color": color})

    def warning_at(self, case: Case) -> tuple[float | None, float | None]:
        """When the current stint's yellow and red warnings fall due (None, None: no limit runs,
        or the case is suspended). Cheap: two calendar look-ups, no storage."""
        due = case.unit_due_at
        if due is None or case.unit_since is None or case.suspended_at is not None:
            return None, None
        return self.sla.yellow_at(case.tier, case.unit_since, due), due

    def warn_due(self) -> list[Case]:
        """Issue every warning due now on active cases: yellow once the yellow share of the unit's
        limit is used, red once it is overdue (each once per stint); return the warned cases."""
        now = self.clock()
        out: list[Case] = []
        for case in sorted(self.store.active_cases(), key=lambda c: c.id):
            yellow, red = self.warning_at(case)
            if red is None or yellow is None:
                continue
            color = "red" if now > red and case.warning < 2 else "yellow" if now >= yellow and case.warning < 1 else ""
            if not color:
                continue
            try:
                out.append(self.warn(case.id, case.version, SYSTEM_ACTOR, color))
            except (VersionConflict, IllegalTransition):
                continue  # changed concurrently; the next round looks again
        return out

    def transition(self, case_id: str, action: Action | str, version: int, actor: str, **kw: Any) -> Case:
        """Apply any action by name (for the HTTP service and load tests)."""
        try:
            act = Action(action)
        except ValueError:
            raise InvalidInput("action", f"unknown action {action!r}") from None
        handler: dict[Action, Callable[..., Case]] = {
            Action.ACCEPT: self.accept,
            Action.REJECT: self.reject,
            Action.MERGE: self.merge,
            Action.DISPATCH: self.dispatch,
            Action.START: self.start,
            Action.RESOLVE: self.resolve,
            Action.VERIFY: self.verify,
            Action.FAIL_VERIFICATION: self._fail_verification,
            Action.CLOSE: self.close,
            Action.EVALUATE: self.evaluate,
            Action.ESCALATE: self.escalate,
            Action.RETURN: self.return_for_rework,
            Action.DECLINE: self.decline,
            Action.EXTEND: self.extend,
            Action.APPROVE_EXTENSION: self.approve_extension,
            Action.REFUSE_EXTENSION: self.refuse_extension,
            Action.SUSPEND: self.suspend,
            Action.RESUME: self.resume,
            Action.REASSIGN: self.reassign,
            Action.REPLY: self.reply,
            Action.WARN: self.warn,
        }
        if act not in handler:
            raise InvalidInput("action", f"{act.value!r} is not a transition; use report to open a case")
        fn = handler[act]
        try:  # check the arguments first, so a TypeError inside the engine is never mistaken for bad input
            inspect.signature(fn).bind(case_id, version, actor, **kw)
        except TypeError as exc:
            raise InvalidInput("body", f"wrong arguments for {act.value}: {exc}") from None
        return fn(case_id, version, actor, **kw)

    def _fail_verification(self, case_id: str, version: int, actor: str, note: str = "") -> Case:
        return self.verify(case_id, version, actor, passed=False, note=note)

    # --------------------------------------------------------------- the core
    def _get(self, case_id: str) -> Case:
        case = self.store.get(case_id)
        if case is None:
            raise CaseNotFound(case_id)
        return case

    def _do(
        self,
        case_id: str,
        version: int,
        action: Action,
        actor: str,
        data: dict[str, Any] | None,
        decide: Callable[[Case, float], tuple[Action, dict[str, Any]]] | None = None,
    ) -> Case:
        """Validate, then commit one event. ``decide`` (for actions whose effect depends on the
        case) picks the action and its data from the current case, or raises."""
        lock = self._lock
        if lock is None:  # a single-threaded store (the simulation): no lock round trip
            case = self._change(case_id, version, action, actor, data, decide)
        else:
            with lock:
                case = self._change(case_id, version, action, actor, data, decide)
        return case

    def _change(
        self,
        case_id: str,
        version: int,
        action: Action,
        actor: str,
        data: dict[str, Any] | None,
        decide: Callable[[Case, float], tuple[Action, dict[str, Any]]] | None,
    ) -> Case:
        """The body of :meth:`_do`, run under the store's lock (if it has one)."""
        store = self.store
        case = store.get(case_id)
        if case is None:
            raise CaseNotFound(case_id)
        if case.version != version:
            raise VersionConflict(case_id, version, case.version)
        state = case.state
        if case.suspended_at is not None and action not in _WHILE_SUSPENDED:
            raise IllegalTransition(action, state, "the case is suspended (挂账); resume it first")
        now = self.clock()
        if decide is not None:
            if state not in TRANSITIONS[action]:
                raise IllegalTransition(action, state)
            action, data = decide(case, now)
        to = TRANSITIONS[action].get(state)
        if to is None:
            raise IllegalTransition(action, state)
        assert data is not None
        if action in _STARTS_STINT:  # the receiving unit's own limit, fixed in the event
            data["unit_due_at"] = self.sla.unit_due_at(case.tier, data.get("level", case.level), now)
        if action is _DISPATCH or action is _REASSIGN:
            if len(data["assignees"]) > 1 and case.level != Level.DISTRICT:
                raise IllegalTransition(action, state, "several departments on one case only at the district centre")
        elif action is _REOPEN and case.reopened_by_evaluation:
            raise IllegalTransition(action, state, "an unsatisfied evaluation reopens a case only once")
        fast = self._commit_change
        if fast is not None:  # a store without an audit log: no Event to build (see MemoryStore)
            fast(case, action, state, to, now, actor, self.mode, data)
        else:
            store.commit(case, Event(case_id, version + 1, action, state, to, now, actor, self.mode, data))
        if self.auto_escalate and action in _RESTARTS_ALLOWANCE:
            self._schedule(case)
        return case

    # ------------------------------------------------------------------ timers
    def _schedule(self, case: Case) -> None:
        if not self.auto_escalate or case.level >= Level.DISTRICT:
            return
        allowance = self.sla.rule(case.tier).allowance(case.level)
        if allowance is None:
            return
        with self._timer_lock:
            self._timer_seq += 1
            heapq.heappush(self._timers, (case.level_since + allowance, self._timer_seq, case.id, case.level_since))

    def next_deadline(self) -> float | None:
        """When the next automatic escalation may fall due (for a simulation to wake up)."""
        return self._timers[0][0] if self._timers else None

    def tick(self) -> list[Case]:
        """Escalate every case whose time allowance at its level has lapsed; return them.

        An allowance lapses when it is used up, at ``level_since + allowance`` (the time
        :meth:`next_deadline` gives, so a simulation that wakes then escalates then). An
        escalation, a return, or a reopen starts the allowance of the new level afresh.
        """
        now = self.clock()
        out: list[Case] = []
        while True:
            with self._timer_lock:
                if not self._timers or self._timers[0][0] > now:
                    break
                _, _, case_id, since = heapq.heappop(self._timers)
            case = self.store.get(case_id)
            if case is None or case.level_since != since or case.state not in LAPSABLE:
                continue
            try:
                out.append(self.escalate(case_id, case.version, SYSTEM_ACTOR, "time allowance lapsed"))
            except (VersionConflict, IllegalTransition):
                continue  # changed concurrently; its own schedule stands
        return out

    # ----------------------------------------------------------------- queries
    def get(self, case_id: str) -> Case:
        return self._get(case_id)

    def history(self, case_id: str) -> list[Event]:
        self._get(case_id)
        return list(self.store.events(case_id))

    def query(self, q: CaseQuery) -> list[Case]:
        return self.store.query(q)

    def overdue(self, now: float | None = None) -> list[Case]:
        t = self.clock() if now is None else now
        return [c for c in self.store.active_cases() if c.overdue(t)]

    def kpis(self, cases: Iterable[Case] | None = None) -> dict[str, Any]:
        from twin.engine.kpi import compute_kpis

        return compute_kpis(self.store.all_cases() if cases is None else cases, self.clock())


#: Actions after which a case's time allowance at its level starts again.
_RESTARTS_ALLOWANCE: frozenset[Action] = frozenset(
    {Action.ESCALATE, Action.RETURN, Action.REOPEN, Action.FAIL_VERIFICATION}
)

_DISPATCH = Action.DISPATCH
_REASSIGN = Action.REASSIGN
#: Actions by which a unit receives the case: its own time limit starts (see transitions).
_STARTS_STINT: frozenset[Action] = frozenset(
    {
        Action.DISPATCH,
        Action.ESCALATE,
        Action.RETURN,
        Action.DECLINE,
        Action.REASSIGN,
        Action.REOPEN,
        Action.FAIL_VERIFICATION,
    }
)
#: What may happen to a suspended case.
_WHILE_SUSPENDED: frozenset[Action] = frozenset({Action.RESUME})


def _assignees(assignees: Sequence[str]) -> tuple[str, ...]:
    """Validated assignee names (at least one, none empty, none twice)."""
    names = tuple(map(str, assignees))
    if not names or "" in names:
        raise InvalidInput("assignees", "expected at least one non-empty assignee")
    if len(names) > 1 and len(set(names)) != len(names):
        raise InvalidInput("assignees", "the same assignee is named twice")
    return names


def _positive(field: str, value: Any) -> None:
    """Raise InvalidInput unless ``value`` is a finite number > 0."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < float("inf"):
        raise InvalidInput(field, f"expected a number of minutes > 0, got {value!r}")


_REOPEN = Action.REOPEN

#: States from which a lapsed allowance escalates a case.
LAPSABLE: frozenset[State] = frozenset(s for s in ACTIVE_STATES if s in TRANSITIONS[Action.ESCALATE])
