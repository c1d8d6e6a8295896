"""The sims of a partitioned run: street partitions and the shared district level.

:func:`partition_sims` gives one factory per sim — street partitions ``0 … P-1`` (street k in
partition k mod P) and, last, the shared level: the district centre and every department as
one pooled set of stations, simulated once. A street partition hands a case reaching the
district up (``"escalate"``, acted on ``handover_minutes`` later: the district signs for it);
the shared level hands back what the district did to it (``"outcome"``: the audit events it
recorded, with their times) at the end of every window while it holds the case, and its
result ``handover_minutes`` after it was settled (``final``), whereupon the street verifies,
calls back and counts it as it does every other case.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from operator import attrgetter

from twin.coupling.protocol import SHARED, Handover, PartitionSim
from twin.coupling.wire import case_from_values, case_values, event_from_values, event_values
from twin.model import DistrictModel
from twin.model.flow import CaseJob, Rows
from twin.model.model import ComponentFactory
from twin.model.shared import VisitStore
from twin.scenario import Scenario

ESCALATE = "escalate"
OUTCOME = "outcome"
REPORT = "report"
MODE = "mode"
_AT = attrgetter("at")


def partition_count(scenario: Scenario) -> int:
    """Street partitions of a run: ``run.partitions``, at most one per street."""
    return max(1, min(scenario.run.partitions, scenario.territory.streets))


def lookahead(scenario: Scenario) -> float:
    """The coupling's window (minutes): the street↔district handover latency."""
    minutes = float(scenario.policy.handover_minutes)
    if not minutes > 0.0:
        raise ValueError(
            f"policy.handover_minutes: expected minutes > 0 with street partitions (it is their lookahead), got {minutes:g}"
        )
    return minutes


class _Sim:
    """What both kinds of sim share: a started model, an outbox, inbox scheduling."""

    def __init__(self, model: DistrictModel, lookahead: float) -> None:
        self.model = model
        self.lookahead = lookahead
        self.env = model.env
        self.out: list[Handover] = []
        self.windows = 0  # env.run(until) calls so far (each adds SimPy's stop event to its count)
        # components that take part in the coupling (the [emergency] section's district command):
        # ``on_handover(kind, payload)``; streets' ``window_report(until)``, the shared level's
        # ``units_notice()`` and its decisions through ``send``
        self.coupled = [c for c in model.components if hasattr(c, "on_handover")]

    def _send(self, at: float, to: int, kind: str, payload: tuple) -> None:  # type: ignore[type-arg]
        """A component's message, acted on one handover after ``at`` (the notice's latency)."""
        self.out.append(Handover(at + self.lookahead, to, kind, payload))

    def advance(self, until: float, inbox: Sequence[Handover]) -> list[Handover]:
        env = self.env
        now = env.now
        for h in sorted(inbox, key=_AT):  # stable: ties keep the routing order
            env.timeout(h.at - now).callbacks.append(partial(self._receive, h))
        env.run(until=until)
        self.windows += 1
        self._window_end(until)
        out, self.out = self.out, []
        return out

    def _receive(self, h: Handover, _event: object = None) -> None:
        """Act on one handover at its time — each kind of sim (street, shared level) says how."""
        raise NotImplementedError

    def _window_end(self, until: float) -> None:
        """Messages that go at the end of every window (none by default)."""

    def finish(self) -> DistrictModel:
        return self.model


class StreetSim(_Sim):
    """A street partition: its streets' grids, communities, street centres and boards."""

    def __init__(self, scenario: Scenario, seed: int | None, days: float | None, keep_events: bool | None,
                 tables: bool, part: int, components: Sequence[ComponentFactory] = ()) -> None:
        m = DistrictModel(scenario, seed=seed, days=days, keep_events=keep_events, part=part, role="street", components=components)
        m.record_stream = tables
        super().__init__(m, lookahead(scenario))
        self.part = part
        m.flow.up = self._up
        m.start()

    def _up(self, job: CaseJob) -> None:
        """A case reaches the district: the shared level signs for it after the handover."""
        payload = (self.part, case_values(job.case), job.rows.values(job.row), job.rework)
        self.out.append(Handover(self.env.now + self.lookahead, SHARED, ESCALATE, payload))

    def _receive(self, h: Handover, _event: object = None) -> None:
        if h.kind != OUTCOME:
            for c in self.coupled:
                c.on_handover(h.kind, h.payload)
            return
        case_id, events, final = h.payload
        self.model.flow.take_back(case_id, tuple(map(event_from_values, events)), final)

    def _window_end(self, until: float) -> None:
        """The partition's report to the district command (the [emergency] section's figures)."""
        for c in self.coupled:
            self.out.append(Handover(until, SHARED, REPORT, c.window_report(until)))


class SharedSim(_Sim):
    """The shared level: the district centre and the departments, simulated once."""

    def __init__(self, scenario: Scenario, seed: int | None, days: float | None, components: Sequence[ComponentFactory] = ()) -> None:
        m = DistrictModel(scenario, seed=seed, days=days, keep_events=False, role="shared", components=components)
        m.record_stream = False
        super().__init__(m, lookahead(scenario))
        for c in self.coupled:
            c.send = self._send
            c.streets = partition_count(scenario)
        store = m.store
        assert isinstance(store, VisitStore)
        self.store = store
        self.origin: dict[str, int] = {}  # case id → the partition it came from
        m.flow.down = self._down
        m.start()

    def _receive(self, h: Handover, _event: object = None) -> None:
        if h.kind != ESCALATE:
            for c in self.coupled:
                c.on_handover(h.kind, h.payload)
            return
        part, values, row, rework = h.payload
        case = case_from_values(values)
        self.origin[case.id] = part
        self.store.adopt(case)
        self.model.flow.adopt(case, Rows.single(row), rework)

    def _events(self, case_id: str) -> tuple[tuple[object, ...], ...]:
        return tuple(map(event_values, self.store.take_events(case_id)))

    def _down(self, job: CaseJob) -> None:
        """The district has settled the case: its result reaches the street after the handover."""
        case_id = job.case.id
        part = self.origin.pop(case_id)
        self.out.append(Handover(self.env.now + self.lookahead, part, OUTCOME, (case_id, self._events(case_id), True)))
        self.store.leave(case_id)
        del self.model.flow.active[case_id]

    def _window_end(self, until: float) -> None:
        """The district's progress on the cases it holds, shown to their streets from the next window."""
        for case_id in list(self.store.changed):
            self.out.append(Handover(until, self.origin[case_id], OUTCOME, (case_id, self._events(case_id), False)))
        for c in self.coupled:  # the district's roll-call of units: every street sets its stations by it
            notice = c.units_notice()
            if notice is not None:
                self.out.extend(Handover(until, k, MODE, notice) for k in range(c.streets))

    def finish(self) -> DistrictModel:
        """The cases still at the district stay the partitions' (their tables hold them)."""
        flow = self.model.flow
        for case_id in list(flow.active):
            self.store.leave(case_id)
        flow.active.clear()
        return self.model


def partition_sims(
    scenario: Scenario, seed: int | None = None, days: float | None = None, keep_events: bool | None = None, tables: bool = True,
    components: Sequence[ComponentFactory] = (),
) -> list[Callable[[], PartitionSim]]:
    """Factories of a run's sims (picklable: call each where it will run): the street
    partitions ``0 … P-1``, then the shared level. ``tables=False`` skips the incident stream;
    ``components`` are composed onto every sim's model (each takes its role's part)."""
    lookahead(scenario)  # refuse a zero latency before anything is built
    n = partition_count(scenario)
    streets: list[Callable[[], PartitionSim]] = [
        partial(StreetSim, scenario, seed, days, keep_events, tables, k, components) for k in range(n)
    ]
    return [*streets, partial(SharedSim, scenario, seed, days, components)]
