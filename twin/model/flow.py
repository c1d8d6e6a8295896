"""Case flow: how each incident moves through the engine and the stations of the ladder.

grid team → (on the spot, 小事不出网) resolve, or assess and escalate → community office (or
a party-member volunteer) → street command centre (triage, 派单 to a board) → district
centre (triage, 吹哨派单 to a department). A case waiting in a queue longer than its tier's
allowance at that level is escalated (checked every ``run.lapse_check_minutes``).
Emergencies (T0: SOS, falls) go to the on-call worker without queueing.
Resolved cases are verified and closed by an hourly sweep; residents who reported a case
are called back the next day at 10:00 (一事一评) — a score ≤ 2 reopens it once.

Between the street and the district a case takes ``policy.handover_minutes`` each way: the
district centre signs for an escalated case (签收) that long after the street reported it up,
and the district's result reaches the street (办结反馈) that long after it was settled. In one
process (:attr:`CaseFlow.up` and :attr:`CaseFlow.down` unset) the flow waits it out itself; with
street partitions (issue 18) the same latency is the lookahead of the coupling: ``up`` hands
the case to the shared level, which runs the district's part and hands the case's new audit
events back (:meth:`CaseFlow.take_back`).

Everything here runs on SimPy callbacks rather than one process per case (a case is a few
scheduled events, not a generator), which is what makes a district-year fast.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
import simpy

from agents.command_centres import CommunityOffice, DistrictCentre, StreetCentre
from agents.departments import Board, Department
from agents.grid_workers import GridWorkers
from agents.party_members import VolunteerPool
from agents.residents import Residents
from twin.engine import CaseEngine, Source, State
from twin.engine.types import Case
from twin.model.incidents import APP, CHANNELS, HOTLINE, TIER_NAMES, DayBatch
from twin.scenario import Scenario
from twin.sim.stations import Station
from twin.sim.territory import Territory

SOURCES = tuple(Source(c) for c in CHANNELS)
S_REPORTED = State.REPORTED
S_REOPENED = State.REOPENED
S_DISPATCHED = State.DISPATCHED
CENTRE_12345 = "12345"  # the city's 12345 centre, the actor that accepts and dispatches work orders


class Rows:
    """A day batch as Python lists (fast scalar access in the hot loop)."""

    __slots__ = ("time", "raised", "grid", "category", "tier", "channel", "need", "false_alarm", "reporter", "effort", "lead",
                 "travel", "assess", "triage", "verify", "u_spot", "u_claim", "u_eval", "u_sat", "u_routine", "u_rule", "service_hours", "order",
                 "prop", "u_prop")

    def __init__(self, b: DayBatch) -> None:
        for name in self.__slots__:
            setattr(self, name, getattr(b, name).tolist())

    def values(self, row: int) -> tuple[Any, ...]:
        """One row's values, in slot order (plain Python values: a handover's payload)."""
        return tuple(getattr(self, name)[row] for name in self.__slots__)

    @classmethod
    def single(cls, values: Sequence[Any]) -> Rows:
        """A one-row batch from :meth:`values` (the shared level's copy of an incident's row)."""
        rows = cls.__new__(cls)
        for name, v in zip(cls.__slots__, values, strict=True):
            setattr(rows, name, [v])
        return rows


@dataclass(frozen=True, slots=True)
class Backlog:
    """Cases open at one instant, and how many of them are past their deadline (督办's red):
    the one definition the model's KPI series, the emergency rules and the drill's KPIs share."""

    open: int
    overdue: int


class CaseJob:
    """The simulation's handle on one ordinary case while the model's stations work on it
    (the emergency component's work items are :class:`twin.emergency.component.EmergencyWork`)."""

    __slots__ = ("case", "rows", "row", "level", "stage", "req", "station", "token", "work", "resolves", "rework", "volunteer", "suspend")

    def __init__(self, case: Case, rows: Rows, row: int) -> None:
        self.case = case
        self.rows = rows
        self.row = row
        self.level = 0
        self.stage = 0
        self.req: Any = None
        self.station: Station | None = None
        self.token = 0
        self.work = 0.0
        self.resolves = False
        self.rework = False
        self.volunteer: str | None = None
        self.suspend = False


class CaseFlow:
    """Routes cases between stations and drives the engine's transitions."""

    def __init__(
        self,
        env: simpy.Environment,
        engine: CaseEngine,
        sc: Scenario,
        terr: Territory,
        residents: Residents,
        workers: GridWorkers,
        offices: list[CommunityOffice],
        pools: list[VolunteerPool],
        centres: list[StreetCentre],
        boards: list[list[Board]],
        district: DistrictCentre,
        departments: list[Department],
        rng_repeat: np.random.Generator,
        epoch: float = 0.0,
        serial_of: Callable[[str], int] | None = None,
    ) -> None:
        """``epoch``: the engine's clock at minute 0 (minutes since the Unix epoch);
        ``serial_of``: a case id's serial number (for the repeat complaints' table; -1 if unknown)."""
        self.env = env
        self._epoch = epoch
        self.serial_of: Callable[[str], int] = serial_of if serial_of is not None else _no_serial
        self.engine = engine
        self.sc = sc
        self.terr = terr
        self.residents = residents
        self.workers = workers
        self.offices = offices
        self.pools = pools
        self.centres = centres
        self.boards = boards
        self.district = district
        self.departments = departments
        self.rng_repeat = rng_repeat
        self.cat_names = list(sc.categories)
        board_names = list(sc.staffing.boards)
        dept_names = list(sc.staffing.departments)
        cats = list(sc.categories.values())
        self.board_of_cat = [board_names.index(c.board) for c in cats]
        self.dept_of_cat = [dept_names.index(c.department) for c in cats]
        self.claimable = [name in sc.party_members.categories for name in self.cat_names]
        self.claim_share = sc.party_members.claim_share
        self.on_spot = sc.policy.on_the_spot_share
        self.eval_share = sc.policy.evaluation_share
        pol = sc.policy
        self.auto_escalate = pol.auto_escalate  # off by default: 督办 raises pressure, not the case
        self.extendable = frozenset(pol.extension_tiers)
        self.approve_share = pol.extension_approval_share
        self.suspend_after = pol.suspend_after_lead_hours * 60.0
        self.misdispatch_share = pol.misdispatch_share
        # the weekly bulletin (一周一通报): red warnings per unit this week, the units named last
        sup = pol.supervision
        self.bulletin_units = sup.bulletin_units
        self.bulletin_factor = 1.0 / (1.0 + sup.bulletin_effort_boost)
        self.reds_week: dict[str, int] = {}
        self.reds_by_unit: dict[str, int] = {}  # the run's red warnings per unit (with the bulletin on)
        self.named: frozenset[str] = frozenset()
        self.named_weeks: dict[str, int] = {}  # how many bulletins named each unit
        self.bulletins = 0
        self.units_named = 0
        self.named_taken = 0  # cases a unit took up while named (the lever's reach)
        self.named_reds = 0  # red warnings on units while they were named (what it should lower)
        self._warn: list[tuple[float, int, CaseJob, float, int]] = []
        self.allow: list[list[float | None]] = []
        for t in TIER_NAMES:
            a = sc.policy.tiers[t].allowance_hours
            self.allow.append([None if v is None else v * 60.0 for v in (a.grid, a.community, a.street)])
        self.check_dist = sc.devices.false_alarm_check_minutes
        self.team_of_grid = workers.team_of_grid.tolist()
        self.community_of_grid = terr.grid_community.tolist()
        self.street_of_grid = terr.grid_street.tolist()
        self.places = terr.places
        self.sat_cdf = (np.cumsum(sc.policy.satisfaction_on_time).tolist(), np.cumsum(sc.policy.satisfaction_late).tolist())
        self.active: dict[str, CaseJob] = {}
        self.rejected_at: dict[str, float] = {}
        self._lapse: list[tuple[float, int, CaseJob, int]] = []
        self._verify: list[tuple[float, int, CaseJob]] = []
        self._evaluate: list[CaseJob] = []
        self._seq = 0
        # tallies
        self.on_spot_resolved = 0
        self.volunteer_claims = 0
        self.lapse_escalations = 0
        self.escalations = 0
        # transitions the shared district level recorded and this street partition applied to
        # its own cases (take_back): the shared level counts them, so the run counts them once
        self.replayed = 0
        self.false_alarms = 0
        self.repeats: list[tuple[float, int, int, int, int, str]] = []  # time, grid, category, tier, case serial, repeat_of
        self.scores_grid: list[int] = []
        self.scores: list[int] = []
        self.on_report: Callable[[Case], None] | None = None  # hook: called for every new case
        # 12345 work orders: tier of each kind, the contact limit, tallies
        hl = sc.hotline
        self.order_tiers = hl.tier_names()
        self.contact_minutes = hl.contact_working_days * engine.sla.calendar.per_day if engine.sla.calendar is not None else 0.0
        self.orders = 0
        self.orders_contacted = 0
        self.orders_contacted_late = 0
        self.order_repeats = 0
        self.warm = sc.run.warmup_days * 1440.0
        # property management (物业): one desk per community, None where no compound has one
        self.properties: list[Station | None] = [None] * len(offices)
        self.property_settle = sc.property_management.settle_share
        self.property_received = 0
        self.property_escalated = 0
        self.property_settled: set[str] = set()
        self.duty: list[Station] = []  # the communities' duty rosters (值班), set by the model
        self.duty_travel = 1.0
        # the street↔district handover (签收 / 办结反馈) and, with partitions, who takes it
        self.handover = pol.handover_minutes
        self.up: Callable[[CaseJob], None] | None = self._hand_up if self.handover > 0.0 else None
        self.down: Callable[[CaseJob], None] | None = None  # set on the shared level

    # ------------------------------------------------------------------ arrival
    def arrive(self, rows: Rows, row: int) -> Case:
        ch = rows.channel[row]
        rep = rows.reporter[row]
        reporter = None if rep < 0 else (f"R{rep}" if ch == 4 else f"H{rep}")
        order = rows.order[row]
        case = self.engine.report(
            category=self.cat_names[rows.category[row]],
            tier=TIER_NAMES[rows.tier[row]] if order < 0 else self.order_tiers[order],
            place=self.places[rows.grid[row]],
            source=SOURCES[ch],
            reporter=reporter,
            actor=CHANNELS[ch] if order < 0 else CENTRE_12345,
        )
        if order >= 0:
            # the 12345 centre has taken the call (受理) and sends the order down (派单, in enter)
            case = self.engine.accept(case.id, case.version, CENTRE_12345)
            self.orders += 1
        job = CaseJob(case, rows, row)
        self.active[case.id] = job
        if rows.tier[row] == 0:
            self._on_call(job)
        elif rows.prop[row] and (pm := self.properties[self.community_of_grid[rows.grid[row]]]) is not None:
            self._to_property(job, pm)
        else:
            self.enter(job, 0)
        if self.on_report is not None:
            self.on_report(case)
        return case

    def _on_call(self, job: CaseJob) -> None:
        """T0: the grid's worker goes straight to the scene (no queue behind routine work); off
        duty hours, the community's person on duty (值班) does, from further away."""
        r, row = job.rows, job.row
        team: Station = self.workers.teams[self.team_of_grid[r.grid[row]]]
        travel = r.travel[row]
        if self.duty and not team.calendar.is_working(self.env.now):
            team = self.duty[self.community_of_grid[r.grid[row]]]
            travel *= self.duty_travel
        job.station = team
        work = travel  # the emergency is answered when the one on call is on site …
        if r.false_alarm[row]:
            work += float(self.check_dist.sample(self.rng_repeat, 1)[0])  # … a false alarm once checked
        team.busy += work
        team.served += 1
        self.env.timeout(work).callbacks.append(partial(self._on_call_done, job))

    def _to_property(self, job: CaseJob, st: Station) -> None:
        """A property matter of a managed compound: the property company's desk takes it first
        (level -1: outside the platform's ladder until it hands the matter in)."""
        job.level = -1
        if job.case.reported_at - self._epoch >= self.warm:
            self.property_received += 1
        self._request(job, st)

    def _property_done(self, job: CaseJob, st: Station) -> None:
        """物业 settled it — recorded and closed by the company, never registered on the platform —
        or hands it in through the community, whose limit starts now (Xiangyang: unresolved →
        城运 dispatch)."""
        c = job.case
        counted = c.reported_at - self._epoch >= self.warm
        if not job.resolves:
            if counted:
                self.property_escalated += 1
            self.enter(job, 1)
            return
        eng = self.engine
        name = st.name
        c = eng.accept(c.id, c.version, name)
        c = eng.dispatch(c.id, c.version, name, (name,))
        c = eng.resolve(c.id, c.version, name)
        c = eng.verify(c.id, c.version, name)
        eng.close(c.id, c.version, name)
        del self.active[c.id]
        self.property_settled.add(c.id)

    def _on_call_done(self, job: CaseJob, _event: object = None) -> None:
        eng = self.engine
        c = job.case
        name = job.station.name  # type: ignore[union-attr]
        if job.rows.false_alarm[job.row]:
            eng.reject(c.id, c.version, name, "false alarm")
            self.rejected_at[c.id] = self.env.now
            self.false_alarms += 1
            del self.active[c.id]
            return
        if c.state is S_REPORTED:
            c = eng.accept(c.id, c.version, name)
        c = eng.dispatch(c.id, c.version, name, (name,))
        eng.resolve(c.id, c.version, name)
        self._resolved(job)

    # ------------------------------------------------------------------ stations
    def enter(self, job: CaseJob, level: int) -> None:
        """Put the case on ``level``'s list: its unit's queue — or, for the district, hand it
        up (the district signs for it ``handover`` minutes later, :meth:`district_takes`)."""
        if level >= 3 and self.up is not None:
            job.level = level
            job.token += 1
            self.up(job)
            return
        self._enter(job, level)

    def _hand_up(self, job: CaseJob) -> None:
        """In one process: the district centre signs for the case after the handover."""
        self.env.timeout(self.handover).callbacks.append(partial(self.district_takes, job))

    def district_takes(self, job: CaseJob, _event: object = None) -> None:
        """The district centre signs for an escalated case (签收) and queues it for triage."""
        self._enter(job, 3)

    def _enter(self, job: CaseJob, level: int) -> None:
        job.level = level
        job.volunteer = None  # a party member claims at the community only (set again there)
        job.stage = 0
        job.token += 1
        st = self._station(job, level, 0)
        if level < 3 and self.auto_escalate:
            allowance = self.allow[job.rows.tier[job.row]][level]
            if allowance is not None:
                # allowances count the working time of the level's handlers (boards at the street)
                cal = (self._station(job, 2, 1) if level == 2 else st).calendar
                self._seq += 1
                heapq.heappush(self._lapse, (cal.finish(self.env.now, allowance), self._seq, job, job.token))
        if level <= 1:
            # the platform puts the case on the unit's list at once (派遣): its limit runs from
            # now, queue included (the platform's working-time limit per unit)
            eng = self.engine
            c = job.case
            if c.state is S_REPORTED:
                eng.accept(c.id, c.version, st.name)
            if c.state is not S_DISPATCHED:
                eng.dispatch(c.id, c.version, st.name, (st.name,))
            self._watch(job)
        self._request(job, st)

    # ------------------------------------------------------------------ the shared district level (partitions)
    def adopt(self, case: Case, rows: Rows, rework: bool) -> None:
        """The shared level signs for a case a street partition handed up (its ``case`` as the
        street had it, ``rows`` its one incident row): it joins the district centre's queue."""
        job = CaseJob(case, rows, 0)
        job.rework = rework
        self.active[case.id] = job
        self._enter(job, 3)

    def take_back(self, case_id: str, events: Sequence[tuple[Any, ...]], final: bool) -> None:
        """A street partition applies what the district did to its case — the audit events the
        shared level recorded, with their real times (``(action, from_state, to_state, at,
        actor, mode, data)``); ``final``: the district's result, the street takes it from here."""
        job = self.active[case_id]
        c = job.case
        commit = self.engine.store.commit_change  # type: ignore[attr-defined]
        for action, frm, to, at, actor, mode, data in events:
            commit(c, action, frm, to, at, actor, mode, dict(data))
        self.replayed += len(events)
        if final:
            self.settled_below(job)

    def _station(self, job: CaseJob, level: int, stage: int) -> Station:
        r, row = job.rows, job.row
        g = r.grid[row]
        if level == 0:
            return self.workers.teams[self.team_of_grid[g]]
        if level == 1:
            c = self.community_of_grid[g]
            cat = r.category[row]
            if not job.rework and self.claimable[cat] and r.u_claim[row] < self.claim_share:
                pool = self.pools[c]
                job.volunteer = pool.pick(r.u_claim[row] / max(self.claim_share, 1e-12))
                return pool
            job.volunteer = None
            return self.offices[c]
        if level == 2:
            s = self.street_of_grid[g]
            return self.centres[s] if stage == 0 else self.boards[s][self.board_of_cat[r.category[row]]]
        return self.district if stage == 0 else self.departments[self.dept_of_cat[r.category[row]]]

    def _request(self, job: CaseJob, st: Station) -> None:
        job.station = st
        job.req = None
        token = st.acquire(partial(self._granted, job), job.case.due_at)
        job.req = token

    def _granted(self, job: CaseJob, _event: object = None) -> None:
        st = job.station
        assert st is not None
        r, row = job.rows, job.row
        lv = job.level
        need = r.need[row]
        if r.order[row] >= 0 and job.case.replied_at is None:
            self._contact(job, st)
        if lv < 0:  # the property company (物业): settles what is within its remit, else assesses
            job.resolves = need <= 1 and r.u_prop[row] < self.property_settle
            work = r.travel[row] + (r.effort[row][0] if job.resolves else r.assess[row])
        elif lv == 0:
            job.resolves = job.rework or (need == 0 and r.u_spot[row] < self.on_spot)
            work = r.travel[row] + (r.effort[row][0] if job.resolves else r.assess[row])
            if self.named and st.name in self.named:  # named in last week's bulletin: more effort
                work *= self.bulletin_factor
                self.named_taken += 1
            # a worker in the middle of routine work (a visit, a patrol stretch, data entry)
            # finishes that stretch first: the wait is uniform over it (the grid worker's day)
            p = st.routine_share  # type: ignore[attr-defined]
            u = r.u_routine[row]
            if u < p:
                wait = u / p * self.workers.interrupt_after
                job.work = work
                st.busy += work
                st.served += 1
                now = self.env.now
                end = st.calendar.finish(now, wait + work)
                if job.resolves:
                    self._time_rules(job, st, end)
                self.env.timeout(end - now).callbacks.append(partial(self._done, job))
                return
        elif lv == 1:
            job.resolves = job.rework or need <= 1
            if job.volunteer is not None:
                work = r.service_hours[row] * 60.0
            else:
                work = r.effort[row][min(need, 1)] if job.resolves else r.assess[row]
        elif job.stage == 0:  # command-centre triage
            job.resolves = False
            work = r.triage[row][lv - 2]
        else:
            job.resolves = job.rework or need <= lv
            # a matter escalated past its own level still takes the effort of that level
            work = r.effort[row][min(need, lv)] if job.resolves else r.assess[row]
        if self.named and lv and st.name in self.named:
            work *= self.bulletin_factor
            self.named_taken += 1
        job.work = work
        st.busy += work
        st.served += 1
        now = self.env.now
        end = st.calendar.finish(now, work)
        if job.resolves and lv >= 0:  # the platform's time rules, not the property desk's
            self._time_rules(job, st, end)
        self.env.timeout(end - now).callbacks.append(partial(self._done, job))

    def _done(self, job: CaseJob, _event: object = None) -> None:
        eng = self.engine
        st = job.station
        assert st is not None
        st.release(job.req)
        job.req = None
        c = job.case
        lv = job.level
        if lv < 0:
            self._property_done(job, st)
            return
        if lv >= 2 and job.stage == 0:
            job.stage = 1
            target = self._station(job, lv, 1)
            wrong = self._misdispatch(job, lv)
            if wrong is not None:
                # a wrong dispatch (派错): the unit sees it is not theirs and hands it back;
                # the centre sends it on (改派), the right unit's limit starting then
                eng.dispatch(c.id, c.version, st.name, (wrong.name,))
                self._watch(job)
                delay = wrong.calendar.finish(self.env.now, job.rows.assess[job.row]) - self.env.now
                self.env.timeout(delay).callbacks.append(partial(self._reassign, job, st.name, target))
                return
            eng.dispatch(c.id, c.version, st.name, (target.name,))
            self._watch(job)
            self._request(job, target)
            return
        if job.resolves:
            lead = job.rows.lead[job.row][min(lv, job.rows.need[job.row])]
            if lead > 0.0:
                if job.suspend:
                    # waiting on another party (materials, a court date, a season): 挂账
                    eng.suspend(c.id, c.version, st.name, "waiting on another party")
                # the other party is done after ``lead``; the unit closes it in its working hours
                now = self.env.now
                self.env.timeout(st.calendar.open_at(now + lead) - now).callbacks.append(partial(self._resolve, job))
            else:
                self._resolve(job)
            return
        self.escalations += 1
        eng.escalate(c.id, c.version, st.name, "beyond this level")
        self.enter(job, lv + 1)

    def _resolve(self, job: CaseJob, _event: object = None) -> None:
        st = job.station
        assert st is not None
        c = job.case
        if c.suspended_at is not None:
            self.engine.resume(c.id, c.version, st.name)
        if job.volunteer is not None:
            self.volunteer_claims += 1
            self.engine.resolve(c.id, c.version, st.name, volunteer=job.volunteer,
                                service_hours=round(job.rows.service_hours[job.row], 3))
        else:
            self.engine.resolve(c.id, c.version, st.name)
            if job.level == 0 and not job.rework:
                self.on_spot_resolved += 1
        self._resolved(job)

    def _resolved(self, job: CaseJob) -> None:
        if job.level >= 3:
            if self.down is not None:  # the shared level: the street takes it from here
                self.down(job)
                return
            if self.handover > 0.0:  # the district's result reaches the street after the handover
                self.env.timeout(self.handover).callbacks.append(partial(self.settled_below, job))
                return
        self.settled_below(job)

    def settled_below(self, job: CaseJob, _event: object = None) -> None:
        """The street has the result: the case leaves the backlog and awaits its on-site check."""
        del self.active[job.case.id]
        self._seq += 1
        # the on-site check (核查) happens in the grid worker's working hours, not at 02:00
        at = self.workers.calendar.open_at(self.env.now + job.rows.verify[job.row])
        heapq.heappush(self._verify, (at, self._seq, job))

    def _contact(self, job: CaseJob, st: Station) -> None:
        """The unit holding a 12345 work order calls the caller when it takes the order up
        (联系诉求人): recorded as the engine's reply; the limit is ``contact_working_days``
        of the platform's working time from dispatch."""
        c = job.case
        eng = self.engine
        cal = eng.sla.calendar
        now = self._epoch + self.env.now
        if c.reported_at - self._epoch < self.warm:
            eng.reply(c.id, c.version, st.name, "contacted the caller")
            return  # the summary counts orders reported after the warm-up
        self.orders_contacted += 1
        if cal is not None and c.dispatched_at is not None and cal.worked_between(c.dispatched_at, now) > self.contact_minutes:
            self.orders_contacted_late += 1
        eng.reply(c.id, c.version, st.name, "contacted the caller")

    # ------------------------------------------------------------------ the platform's time rules: limits, stints, 督办
    def _dispatcher(self, job: CaseJob) -> str:
        """The level that dispatched the case to its unit: the street centre, or the district's."""
        if job.level >= 3:
            return self.district.name
        return self.centres[self.street_of_grid[job.rows.grid[job.row]]].name

    def _time_rules(self, job: CaseJob, st: Station, end: float) -> None:
        """When the unit that will settle the matter takes it up: a reply matter gets its
        answer (答复); a handler who can see the limit will not hold asks for more time (延期),
        which the dispatching level approves or refuses; a long wait on another party will be
        put on hold (挂账) — see :meth:`_done`."""
        eng = self.engine
        c = job.case
        r, row = job.rows, job.row
        lead = r.lead[row][min(job.level, r.need[row])]
        job.suspend = lead >= self.suspend_after > 0.0
        if c.done_by == "reply" and c.replied_at is None:
            eng.reply(c.id, c.version, st.name, "plan of handling")
            return
        due = c.unit_due_at
        finish = self._epoch + (end if job.suspend else end + lead)  # the engine's clock is epoch minutes
        if due is None or finish <= due or c.tier not in self.extendable or c.extension_pending is not None:
            return
        rule = eng.sla.rule(c.tier)
        more = math.ceil(eng.sla.elapsed(rule, due, finish) / 60.0) * 60.0
        if more <= 0.0:
            return
        eng.extend(c.id, c.version, st.name, more, "the work needs longer than the limit")
        if r.u_rule[row] < self.approve_share:
            eng.approve_extension(c.id, c.version, self._dispatcher(job))
        else:
            eng.refuse_extension(c.id, c.version, self._dispatcher(job), "the limit stands")

    def _misdispatch(self, job: CaseJob, lv: int) -> Station | None:
        """The unit a command centre sends the case to by mistake, or None (most cases)."""
        u = (job.rows.u_rule[job.row] * 7919.0) % 1.0
        if job.rework or u >= self.misdispatch_share:
            return None
        r, row = job.rows, job.row
        cat = r.category[row]
        if lv == 2:
            units: list[Any] = self.boards[self.street_of_grid[r.grid[row]]]
            right = self.board_of_cat[cat]
        else:
            units = self.departments
            right = self.dept_of_cat[cat]
        if len(units) < 2:
            return None
        return units[(right + 1) % len(units)]

    def _reassign(self, job: CaseJob, centre: str, target: Station, _event: object = None) -> None:
        c = job.case
        self.engine.reassign(c.id, c.version, centre, (target.name,), "wrong dispatch: not this unit's matter")
        self._watch(job)
        self._request(job, target)

    def _watch(self, job: CaseJob) -> None:
        """Note when the new stint's yellow and red warnings (督办) fall due."""
        c = job.case
        yellow, red = self.engine.warning_at(c)
        if red is None or yellow is None or c.unit_since is None:
            return
        self._seq += 1  # the red warning is noted when the yellow one falls due
        heapq.heappush(self._warn, (yellow, self._seq, job, c.unit_since, 1))

    def supervise_sweep(self, every: float) -> Generator[simpy.Event, Any, None]:
        """督办: issue the yellow and red warnings that have fallen due (the street centre's
        supervision desk looks every ``every`` minutes)."""
        heap = self._warn
        eng = self.engine
        env = self.env
        epoch = self._epoch
        while True:
            yield env.timeout(every)
            now = env.now + epoch
            while heap and heap[0][0] <= now:
                _, _, job, since, color = heapq.heappop(heap)
                c = job.case
                if c.unit_since != since or c.unit_due_at is None or c.suspended_at is not None or c.warning >= color:
                    continue
                if color == 1:
                    self._seq += 1
                    heapq.heappush(heap, (c.unit_due_at, self._seq, job, since, 2))
                if color == 2 and now <= c.unit_due_at:  # an extension moved the limit
                    continue
                eng.warn(c.id, c.version, self._dispatcher(job), "red" if color == 2 else "yellow")
                if color == 2 and self.bulletin_units and job.station is not None:
                    unit = job.station.name
                    self.reds_week[unit] = self.reds_week.get(unit, 0) + 1
                    self.reds_by_unit[unit] = self.reds_by_unit.get(unit, 0) + 1
                    self.named_reds += unit in self.named

    def bulletin(self, every: float) -> Generator[simpy.Event, Any, None]:
        """一周一通报: every ``every`` minutes, name the ``bulletin_units`` units with the most red
        warnings since the last bulletin (ties by name); they put in more effort until the next."""
        while True:
            yield self.env.timeout(every)
            worst = sorted(self.reds_week.items(), key=lambda kv: (-kv[1], kv[0]))[: self.bulletin_units]
            self.named = frozenset(unit for unit, _ in worst)
            for unit in self.named:
                self.named_weeks[unit] = self.named_weeks.get(unit, 0) + 1
            self.bulletins += 1
            self.units_named += len(self.named)
            self.reds_week = {}

    # ------------------------------------------------------------------ sweeps
    def lapse_sweep(self, every: float) -> Generator[simpy.Event, Any, None]:
        """Escalate queued cases whose allowance at their level has lapsed."""
        heap = self._lapse
        while True:
            yield self.env.timeout(every)
            now = self.env.now
            while heap and heap[0][0] <= now:
                _, _, job, token = heapq.heappop(heap)
                req = job.req
                if job.token != token or req is None or req.triggered:
                    continue
                req.cancel()
                job.req = None
                c = job.case
                self.lapse_escalations += 1
                self.escalations += 1
                self.engine.escalate(c.id, c.version, "system", "time allowance lapsed")
                self.enter(job, job.level + 1)

    def verify_sweep(self, every: float) -> Generator[simpy.Event, Any, None]:
        """Verify and close resolved cases whose on-site check is due (hourly)."""
        heap = self._verify
        eng = self.engine
        env = self.env
        pop = heapq.heappop
        on_duty = self.workers.calendar.is_working
        while True:
            yield env.timeout(every)
            now = env.now
            if not on_duty(now):  # checks due late in the afternoon wait for the next working hour
                continue
            if not heap or heap[0][0] > now:
                continue
            teams = self.workers.teams
            team_of_grid = self.team_of_grid
            minutes = self.workers.verify_minutes
            eval_share = self.eval_share
            evaluate = self._evaluate  # replaced daily by the call-backs, never during a sweep
            while heap and heap[0][0] <= now:
                job = pop(heap)[2]
                c = job.case
                r, row = job.rows, job.row
                team = teams[team_of_grid[r.grid[row]]]
                team.busy += minutes
                actor = team.name
                c = eng.verify(c.id, c.version, actor)
                c = eng.close(c.id, c.version, actor)
                ch = r.channel[row]
                if (ch in (APP, HOTLINE)) and r.u_eval[row] < eval_share:
                    evaluate.append(job)

    def daily(self, at_hour: float = 10.0) -> Generator[simpy.Event, Any, None]:
        """Call-backs (一事一评) for cases closed before today, and repeat complaints (12345) about overdue ones."""
        env = self.env
        yield env.timeout(at_hour * 60.0)
        while True:
            self._call_backs()
            self._repeat_complaints()
            yield env.timeout(1440.0)

    def _call_backs(self) -> None:
        eng = self.engine
        day_start = (self.env.now // 1440.0) * 1440.0 + self._epoch
        todo = self._evaluate
        keep: list[CaseJob] = []
        grids: list[int] = []
        scores: list[int] = []
        on_cdf, late_cdf = self.sat_cdf
        for job in todo:
            c = job.case
            if c.closed_at is None or c.closed_at >= day_start:
                keep.append(job)
                continue
            u = job.rows.u_sat[job.row]
            if job.rework:  # a second call-back draws afresh from the stream of this case's row
                u = (u * 7.0 + 0.5) % 1.0
            cdf = on_cdf if c.resolved_at is not None and c.resolved_at <= c.due_at else late_cdf
            score = 1
            while score < 5 and u >= cdf[score - 1]:
                score += 1
            c = eng.evaluate(c.id, c.version, "resident", score)
            grids.append(job.rows.grid[job.row])
            scores.append(score)
            if c.state is S_REOPENED:
                job.rework = True
                self.active[c.id] = job
                self.enter(job, job.level)
        self._evaluate = keep
        self.scores_grid.extend(grids)
        self.scores.extend(scores)
        self.residents.learn(np.asarray(grids, dtype=np.int64), np.asarray(scores, dtype=float))

    def _repeat_complaints(self) -> None:
        p = self.sc.policy.repeat_complaint_daily_prob
        now = self.env.now + self._epoch
        overdue = [j for j in self.active.values() if j.case.due_at < now]
        if not overdue or p <= 0:
            return
        u = self.rng_repeat.random(len(overdue))
        grids = []
        eng = self.engine
        for job, x in zip(overdue, u, strict=True):
            if x >= p:
                continue
            c = job.case
            dup = eng.report(category=c.category, tier=c.tier, place=c.place, source=Source.HOTLINE,
                             reporter=c.reporter, actor="hotline", description="repeat complaint")
            eng.merge(dup.id, dup.version, "hotline", c.id)
            r, row = job.rows, job.row
            if r.order[row] >= 0:
                self.order_repeats += 1  # a repeat call on an open work order (重复件)
            self.repeats.append((self.env.now, r.grid[row], r.category[row], r.tier[row], self.serial_of(dup.id), c.id))
            grids.append(r.grid[row])
        self.residents.complain(np.asarray(grids, dtype=np.int64), 1.0)


    def backlog(self, now_epoch: float) -> Backlog:
        """Ordinary cases open now, and those past their deadline (``now_epoch``: the engine's clock)."""
        active = self.active
        return Backlog(len(active), sum(1 for j in active.values() if j.case.due_at < now_epoch))

def _no_serial(_case_id: str) -> int:
    return -1
