"""The district model: a mesa.Model whose clock is a simpy.Environment (minutes).

Minute 0 is midnight, China time, of the scenario's start date; the engine's clock is that
instant in minutes since the Unix epoch plus ``env.now``. The model's own parts (incident
source, stations, sweeps, KPI sampler) each start their own SimPy processes in :meth:`start`.
Other components are handed to the model by whoever builds it (the run composes the emergency
switchover when the scenario has an ``[emergency]`` section): each is a factory called with the
model at the end of construction, which adds its processes through :meth:`add_process` and
its rate modifiers to the incident source. The model never imports them.
"""

from __future__ import annotations

import gc
import math
from collections.abc import Callable, Generator, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

import mesa
import numpy as np
import simpy

from agents.command_centres import CommunityOffice, DistrictCentre, DutyRoster, StreetCentre
from agents.departments import Board, Department
from agents.devices import DeviceGroups
from agents.grid_workers import GridWorkers
from agents.party_members import VolunteerPool, members_per_community
from agents.property import PropertyCompany, managed_grids
from agents.residents import Residents
from agents.riders import RiderFleet
from twin.engine import CaseEngine, MemoryStore, SlaPolicy, TierRule
from twin.engine.worktime import ClockKind, WorkTime
from twin.model.flow import Backlog, CaseFlow, Rows
from twin.model.incidents import DayBatch, IncidentSource
from twin.model.shared import VisitStore
from twin.rng import stream_rng
from twin.scenario import Scenario
from twin.sim.environment import ModelEnvironment
from twin.sim.stations import Station
from twin.sim.territory import build_territory

C = TypeVar("C")

#: Builds a component onto a model under construction and returns it; the model keeps it in
#: :attr:`DistrictModel.components` (the emergency component's class is such a factory).
ComponentFactory = Callable[["DistrictModel"], object]

ROLES: tuple[str, ...] = (
    "grid_worker", "community_staff", "volunteer", "street_dispatcher", "board", "district_dispatcher", "department", "property", "duty",
)


@contextmanager
def quiet_gc(gen0: int = 200_000) -> Iterator[None]:
    """Run the simulation with a rare cyclic GC, restoring the settings afterwards.

    The flow makes almost no cyclic garbage (a year-run's full collections find a few dozen
    objects), but the collector still walks the growing set of live cases, jobs and events
    every few hundred allocations — measured at 10–20 % of a partition's CPU time. Objects
    built during setup are frozen (never scanned) and generation 0 is collected every
    ``gen0`` allocations instead of 700. Results do not depend on the collector.
    """
    old = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(max(old[0], gen0), old[1], old[2])
    try:
        yield
    finally:
        gc.set_threshold(*old)
        gc.unfreeze()


def sla_policy(sc: Scenario, days: float | None = None) -> SlaPolicy:
    """The engine's matter time rules from the scenario: per-unit limits and end-to-end due
    times on the platform's working calendar (PRC holidays and 调休) or natural time; the
    allowances matter only with ``policy.auto_escalate``. Tiers the scenario leaves out keep
    the engine's defaults."""
    tiers = {}
    for name, t in sc.policy.tiers.items():
        a = t.allowance_hours
        allow = tuple(None if v is None else v * 60.0 for v in (a.grid, a.community, a.street)) + (None,)
        limits = (None, None, None, None) if t.limit_hours is None else t.limit_hours.minutes()
        tiers[name] = TierRule(name, t.due_hours * 60.0, allow, "", limits, t.clock, False, t.done)  # type: ignore[arg-type]
    base = SlaPolicy().tiers
    for k, v in base.items():
        tiers.setdefault(k, v)
    hl = sc.hotline
    if hl.work_orders:
        # a 12345 work order's limit, in working days from dispatch, for whichever unit holds it
        none = (None, None, None, None)
        for name, t in zip(hl.tier_names(), hl.order_types.values(), strict=True):
            tiers[name] = TierRule(name, t.working_days, none, f"12345 work order: {t.working_days:g} working days", none, "working", True)
    span = int(math.ceil(sc.run.days if days is None else days)) + 2
    # the engine's clock is Unix-epoch minutes; limits may run past the horizon, hence the margin
    cal = WorkTime([tuple(w) for w in sc.policy.working_hours], ClockKind.WORKING, start=sc.run.start_date, days=span, margin_days=120)
    return SlaPolicy(tiers, cal)


def case_serial(case_id: str) -> int:
    """The serial number in a case id the model makes (``{tag}-{serial:08d}``)."""
    return int(case_id.rsplit("-", 1)[1])


class DistrictModel(mesa.Model):
    """Residents, grid workers, devices, riders, party members, command centres and
    departments producing and handling incidents through the case engine."""

    def __init__(
        self,
        scenario: Scenario,
        seed: int | None = None,
        days: float | None = None,
        keep_events: bool | None = None,
        part: int = 0,
        components: Sequence[ComponentFactory] = (),
        role: str = "whole",
    ) -> None:
        """``role``: ``"whole"`` — every level in this model (one process); ``"street"`` —
        partition ``part`` of ``run.partitions``: its streets' units, the district handed to
        the shared level through :attr:`CaseFlow.up`; ``"shared"`` — the district centre and
        the departments alone, taking cases from the street partitions (:meth:`CaseFlow.adopt`)."""
        if role not in ("whole", "street", "shared"):
            raise ValueError(f"role: expected 'whole', 'street' or 'shared', got {role!r}")
        self.role = role
        self.scenario = sc = scenario
        self.seed_value = int(sc.run.seed if seed is None else seed)
        super().__init__(seed=self.seed_value)
        self.days = float(sc.run.days if days is None else days)
        self.horizon = self.days * 1440.0
        self.env = env = ModelEnvironment()
        self.epoch = sc.start_epoch_minutes
        self.start_weekday = sc.run.start_date.weekday()
        self.partitions = n_parts = max(1, min(sc.run.partitions, sc.territory.streets)) if role != "whole" else 1
        self.part = part
        suffix = "" if n_parts == 1 else f"/p{part}of{n_parts}"
        if role == "shared":
            suffix = "/shared"
        # construction streams are shared by all partitions (same territory and households);
        # the streams that draw events are the partition's own
        rngs = {n: stream_rng(self.seed_value, n) for n in ("territory", "residents", "devices")}
        rngs |= {n: stream_rng(self.seed_value, n + suffix) for n in ("patrol", "riders", "handling", "repeat", "ids")}
        self.terr = terr = build_territory(sc, rngs["territory"])
        self.own_streets = (np.arange(terr.n_streets) % n_parts == part) & (role != "shared")
        self.own_grids = self.own_streets[terr.grid_street]
        keep = sc.outputs.case_events if keep_events is None else keep_events
        # one thread: no lock per transition; the shared level's cases visit from the partitions
        self.store = VisitStore() if role == "shared" else MemoryStore(keep_events=keep, threadsafe=False)
        tag = "".join(f"{b:02x}" for b in rngs["ids"].integers(0, 256, 3)) + ("" if n_parts == 1 else f"p{part}")
        self.id_tag = tag
        counter = [0]

        def next_id() -> str:
            counter[0] += 1
            return f"{tag}-{counter[0]:08d}"

        self._counter = counter
        epoch = self.epoch
        self.engine = CaseEngine(self.store, clock=env.epoch_clock(epoch), sla=sla_policy(sc, self.days), id_factory=next_id, auto_escalate=False)
        st = sc.staffing
        wd = self.start_weekday
        span = int(np.ceil(self.days)) + 2

        def WorkCalendar(windows: Any, weekend: bool, _weekday: int) -> WorkTime:  # noqa: N802 - reads like the old class
            """A unit's calendar: the PRC working calendar (public holidays and 调休), or
            every day for units with a weekend duty rota; minute 0 = the start date's 00:00."""
            kind = ClockKind.EVERY_DAY if weekend else ClockKind.WORKING
            return WorkTime.for_run([tuple(w) for w in windows], kind, sc.run.start_date, span, margin_days=60)
        self.cal_worker = WorkCalendar(st.worker_hours, st.worker_weekend, wd)
        cal_comm = WorkCalendar(st.community_hours, st.community_weekend, wd)
        cal_street = WorkCalendar(st.street_hours, True, wd)
        cal_district = WorkCalendar(st.district_hours, True, wd)
        cal_volunteer = WorkCalendar([(8.0, 20.0)], True, wd)
        cal_rider = WorkCalendar(sc.riders.hours, True, wd)
        ch = sc.channels
        cal_intake = WorkCalendar(
            st.worker_hours if ch.intake_hours is None else ch.intake_hours,
            st.worker_weekend if ch.intake_weekend is None else ch.intake_weekend,
            wd,
        )
        # agents
        self.residents = Residents(self, sc, terr.households, rngs["residents"])
        self.workers = GridWorkers(self, env, sc, terr, self.cal_worker)
        self.offices = [CommunityOffice(self, env, f"CO-{n}", st.community_staff, cal_comm) for n in terr.community_names]
        members = members_per_community(self.residents.party_members_per_grid(), terr.grid_community, terr.n_communities)
        self.pools = [
            VolunteerPool(self, env, f"PM-{n}", int(m), sc.party_members.active_share, cal_volunteer)
            for n, m in zip(terr.community_names, members, strict=True)
        ]
        self.centres = [StreetCentre(self, env, f"SC-{n}", st.street_dispatchers, cal_street) for n in terr.street_names]
        self.boards = [
            [Board(self, env, f"B-{n}-{b}", u.staff, WorkCalendar(u.hours, u.weekend, wd)) for b, u in st.boards.items()]
            for n in terr.street_names
        ]
        # the district level: simulated once (the whole model, or the shared level of partitions)
        self.district = DistrictCentre(self, env, f"DC-{terr.district}", st.district_dispatchers, cal_district)
        self.departments = [
            Department(self, env, f"D-{d}", u.staff, WorkCalendar(u.hours, u.weekend, wd)) for d, u in st.departments.items()
        ]
        for i, o in enumerate(self.offices):
            o.street = self.pools[i].street = int(terr.community_street[i])
        for i, c in enumerate(self.centres):
            c.street = i
            for b in self.boards[i]:
                b.street = i
        self.riders = RiderFleet(self, sc, terr.residents, list(sc.categories))
        self.devices = DeviceGroups(self, sc, self.residents.elders_alone_per_grid(), terr.residents, rngs["devices"])
        if n_parts > 1 or role == "shared":  # daily draws from the partition's own streams; only its own streets raise incidents
            self.residents.gen = stream_rng(self.seed_value, "residents" + suffix)
            self.devices.gen = stream_rng(self.seed_value, "devices" + suffix)
            self.riders.per_grid = self.riders.per_grid * self.own_grids
        self.incidents = IncidentSource(sc, terr, self.residents, self.workers, self.riders, self.devices, rngs, wd, cal_rider, cal_intake)
        if n_parts > 1 or role == "shared":
            self.incidents.own = self.own_grids
            own_rates = np.repeat(self.own_grids[:, None].astype(float), len(sc.categories), axis=1)
            self.incidents.add_rate_modifier(lambda day: own_rates)
        self.flow = CaseFlow(
            env, self.engine, sc, terr, self.residents, self.workers, self.offices, self.pools, self.centres,
            self.boards, self.district, self.departments, rngs["repeat"], epoch=epoch, serial_of=case_serial,
        )
        # property management (物业): one company desk per community with managed compounds
        pm = sc.property_management
        self.properties: list[PropertyCompany | None] = [None] * terr.n_communities
        if pm.managed_share > 0.0 and pm.staff_per_community > 0:
            managed = managed_grids(terr.n_grids, pm.managed_share, stream_rng(self.seed_value, "property"))
            self.incidents.managed = managed
            cal_pm = WorkCalendar(pm.hours, pm.weekend, wd)
            has = np.zeros(terr.n_communities, dtype=bool)
            has[terr.grid_community[managed]] = True
            for i in np.flatnonzero(has):
                st_pm = PropertyCompany(self, env, f"WY-{terr.community_names[i]}", pm.staff_per_community, cal_pm)
                st_pm.street = int(terr.community_street[i])
                self.properties[i] = st_pm
        self.flow.properties = self.properties
        # the duty roster (值班): emergencies while the grid workers are off duty
        duty = st.duty
        if duty.per_community > 0:
            off = WorkCalendar([(0.0, 24.0)], True, wd)
            self.duty = [DutyRoster(self, env, f"DUTY-{n}", duty.per_community, off) for n in terr.community_names]
            for i, d in enumerate(self.duty):
                d.street = int(terr.community_street[i])
            self.flow.duty = self.duty
            self.flow.duty_travel = duty.travel_factor
        # outputs
        self.record_stream = True  # keep the incident stream for the outputs (off for benchmarks)
        self.stream_days: list[DayBatch] = []
        self.stream_serials: list[np.ndarray] = []
        self.kpi_rows: list[dict[str, float]] = []
        self.progress: Callable[[float], None] | None = None
        # hook (a city run, twin.coupling.city): takes each day's batch as drawn and returns what
        # arrives here on its own — the 12345 work orders then come down from the city's centre
        self.hold_orders: Callable[[DayBatch], DayBatch] | None = None
        self._processes: list[Callable[[], Generator[simpy.Event, Any, None]]] = []
        self.started = False
        # components the builder composes (last, so that they see every part of the model)
        self.components: list[object] = []
        for build in components:
            self.components.append(build(self))

    # ------------------------------------------------------------------ structure
    def stations(self) -> list[Station]:
        return [a for a in self.agents if isinstance(a, Station)]

    @property
    def cases_reported(self) -> int:
        """Cases the engine has opened so far (the serial of the last case id)."""
        return self._counter[0]

    def component(self, kind: type[C]) -> C | None:
        """The component of type ``kind`` the model was built with, if any."""
        return next((c for c in self.components if isinstance(c, kind)), None)

    def own_stations(self) -> list[Station]:
        """Stations this model simulates: all of them (whole), its streets' units (a street
        partition) or the district's (the shared level)."""
        role = self.role
        if role == "whole":
            return self.stations()
        if role == "shared":
            return [s for s in self.stations() if s.street < 0]
        return [s for s in self.stations() if s.street >= 0 and self.own_streets[s.street]]

    def add_process(self, fn: Callable[[], Generator[simpy.Event, Any, None]]) -> None:
        """Register a component's SimPy process (started with the others)."""
        self._processes.append(fn)
        if self.started:
            self.env.process(fn())

    def start(self) -> None:
        if self.started:
            return
        self.started = True
        sc = self.scenario
        env = self.env
        if self.role == "shared":  # the district's supervision desk and the KPI series; cases come from the partitions
            env.process(self.flow.supervise_sweep(60.0))
            env.process(self._sampler(sc.run.kpi_interval_hours * 60.0))
            for fn in self._processes:
                env.process(fn())
            return
        env.process(self._arrivals())
        if sc.policy.auto_escalate:
            env.process(self.flow.lapse_sweep(sc.run.lapse_check_minutes))
        env.process(self.flow.verify_sweep(60.0))
        env.process(self.flow.supervise_sweep(60.0))
        if sc.policy.supervision.bulletin_units:
            env.process(self.flow.bulletin(sc.policy.supervision.bulletin_every_days * 1440.0))
        env.process(self.flow.daily())
        env.process(self._sampler(sc.run.kpi_interval_hours * 60.0))
        for fn in self._processes:
            env.process(fn())

    # ------------------------------------------------------------------ processes
    def _arrivals(self) -> Generator[simpy.Event, Any, None]:
        env = self.env
        carry: DayBatch | None = None
        n_days = int(np.ceil(self.days))
        flow = self.flow
        counter = self._counter
        workers = self.workers
        for day in range(n_days):
            workers.close_day(day - 1)  # yesterday's routine takes the working time its cases left
            b = self.incidents.day(day)
            if self.hold_orders is not None:  # in a city: the day's 12345 order calls go to the city's centre
                b = self.hold_orders(b)
            if carry is not None and len(carry):
                b = DayBatch.concat(carry, b)
                b = b.take(np.argsort(b.time, kind="stable"))
            end = min((day + 1) * 1440.0, self.horizon)
            k = int(np.searchsorted(b.time, end, side="left"))
            carry = b.take(np.arange(k, len(b)))
            today = b.take(np.arange(k))
            rows = Rows(today)
            serials = np.empty(k, dtype=np.int64)
            times = rows.time
            for i in range(k):
                dt = times[i] - env.now
                if dt > 0:
                    yield env.timeout(dt)
                flow.arrive(rows, i)
                serials[i] = counter[0]
            if self.record_stream:
                self.stream_days.append(today)
                self.stream_serials.append(serials)
            if self.progress is not None:
                self.progress(end / 1440.0)
            if env.now < end:
                yield env.timeout(end - env.now)

    def _sampler(self, every: float) -> Generator[simpy.Event, Any, None]:
        env = self.env
        stations = self.own_stations()
        shared = self.role == "shared"  # its cases are the partitions' (counted there)
        by_role: dict[str, list[Station]] = {r: [s for s in stations if s.role == r] for r in ROLES}
        # the resources' queue and user lists are fixed objects: sum their lengths in C
        queues = {r: [s.res.queue for s in ss] for r, ss in by_role.items()}
        users = {r: [s.res.users for s in ss] for r, ss in by_role.items()}
        while True:
            yield env.timeout(every)
            bl = Backlog(0, 0) if shared else self.flow.backlog(self.epoch + env.now)
            row: dict[str, float] = {
                "t_min": env.now,
                "backlog": float(bl.open),
                "cases_reported": float(self._counter[0]),
                "trust_sum": float(self.residents.trust[self.own_grids].sum()),
                "latent_needs": 0.0 if shared else float(self.incidents.latent.sum()),
            }
            row["overdue"] = float(bl.overdue)
            for role in by_role:
                row[f"queue_{role}"] = float(sum(map(len, queues[role])))
                row[f"busy_{role}"] = float(sum(map(len, users[role])))
            self.kpi_rows.append(row)

    # ------------------------------------------------------------------ run
    def run_model(self) -> None:
        self.start()
        with quiet_gc():
            self.env.run(until=self.horizon)

    def step(self) -> None:
        """One simulated day (Mesa's step); ``run_model`` runs the whole horizon at once."""
        self.start()
        with quiet_gc():
            self.env.run(until=min(self.horizon, self.env.now + 1440.0))

    def simpy_events(self) -> int:
        """Events SimPy has processed so far (scheduled minus still queued)."""
        return self.env.events_processed()
