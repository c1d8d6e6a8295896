"""The emergency component of the district model: mode controller, mobilisation, emergency
incidents, vulnerable-resident checks, and the series behind the ``modes`` block.

Composed onto :class:`twin.model.DistrictModel` by the run (:func:`twin.run.build_model`) when the scenario has an ``[emergency]``
section. It adds SimPy processes through ``model.add_process`` (emergency arrivals, the
schedule, the rules, a sampler) and a rate modifier through
``IncidentSource.add_rate_modifier`` (surges of ordinary categories), and changes the head
count of the roster units' stations through ``Station.set_capacity`` — so the cost of
mobilisation shows up as those units' backlog. The engine's ``mode`` follows the
controller, so every case event records the mode in force.

Random streams are the component's own (spawned from the run seed by name), so adding the
section never shifts the ordinary streams, and the same seed gives the same emergency with
or without the switch.

With coupled partitions (``twin.coupling``; issue 18) the component takes its model's role:
on the shared level it is the district command (controller, declarations, rules — fed by the
streets' ``report`` handovers; its decisions go out as ``mode`` notices acted on one handover
later); in a street partition it holds that partition's share of the territory's arrivals,
vulnerable residents and roster (drawn for the whole territory, then split, so the draws do
not depend on the partition count) and follows the notices. A member belongs to the partition
of the community they go down to (else where registered); one registered in a community of
another partition is not among that community's on-call (有呼必应) members — the one place
where the split is not exact (it needs a registration outside the area and an emergency
case there in normal mode). The specialist responders are one district-wide pool at every P:
each street partition replays the whole pool, the other partitions' calls holding its crews
(:meth:`EmergencyComponent._pool_calls`), so crews, queues and response times do not depend
on P. At the end, :func:`twin.emergency.record.record_of` takes what the ``modes`` block reads.
"""

from __future__ import annotations

import bisect
from collections import deque
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any

import numpy as np
import simpy

from agents.mobilised import EN_ROUTE, HOME, ON_SITE, RETURNING, EmergencyTeam, Members, UnitInfo
from twin.emergency.arrivals import Arrivals, generate
from twin.emergency.declared import LEVEL_LABELS, ResponseBoard
from twin.emergency.on_call import OnCall
from twin.emergency.record import mobilisable_count
from twin.emergency.redeploy import Redeployment
from twin.emergency.roster import ROLE_INDEX, build_roster
from twin.engine import SlaPolicy, Source, State, TierRule
from twin.model.flow import Backlog
from twin.modes import MODES, ROLES, ModeChange, ModeController, Rule, RuleMonitor, mobilised_roles, path_to
from twin.rng import stream_rng
from twin.scenario.emergency import Area, Emergency
from twin.sim.stations import Station

if TYPE_CHECKING:  # pragma: no cover
    from twin.model.model import DistrictModel

E_TIER = "E"


@dataclass(frozen=True, slots=True)
class EmergencyState:
    """One observation of the switchover — what the drill's KPIs show and the rules watch."""

    t_min: float
    mode: str
    normal: Backlog  # ordinary cases
    emergency: Backlog  # tier-E cases (overdue: past the emergency SLA)
    reported: int  # ordinary and emergency cases reported so far
    on_site: int
    en_route: int
    checks_done: int
    checks_total: int  # vulnerable residents to check
    redeployed: float  # grid workers and community staff on emergency duties
    routine_backlog_hours: float  # grid workers' routine waiting because of those duties


@dataclass(eq=False)  # identity: a call for help finds *its* case in a queue (twin.emergency.on_call)
class EmergencyWork:
    """One piece of emergency work: a tier-E case (kind < K) or a vulnerable-resident check (kind K)."""

    kind: int
    community: int
    t: float  # queued since (case: reported; check: the duty's start)
    travel: float
    effort: float
    index: int  # arrival row or household
    case: Any = None
    #: another street partition's call on the specialist pool: it holds a crew here as it does
    #: there, and its case, records and engine events are that partition's
    ghost: bool = False


@dataclass
class Episode:
    """One step up: who it calls, and when they are on site."""

    to: str
    at: float
    mobilisable: int
    t50: float | None = None
    t90: float | None = None


@dataclass
class Duty:
    start: float
    deadline: float
    households: np.ndarray
    done_at: np.ndarray = field(default_factory=lambda: np.empty(0))


def emergency_of(model: DistrictModel) -> EmergencyComponent:
    """The emergency component a model was built with (by :func:`twin.run.build_model` for a
    scenario with an ``[emergency]`` section)."""
    comp = model.component(EmergencyComponent)
    if comp is None:
        raise LookupError("the model has no emergency component (the scenario has no [emergency] section)")
    return comp


class EmergencyComponent:
    """Everything the ``[emergency]`` section adds to one run."""

    def __init__(self, model: DistrictModel) -> None:
        self.m = model
        sc = model.scenario
        assert sc.emergency is not None
        # "whole": everything here; "street": a street partition — its own streets' incidents,
        # checks, members and stations, the mode as the district's notices bring it; "shared":
        # the district command — the decisions, from the streets' reports (twin.coupling)
        self.role: str = getattr(model, "role", "whole")
        self.send: Callable[[float, int, str, tuple[Any, ...]], None] | None = None  # set by the coupling
        self.streets = 0  # street partitions the shared level broadcasts to (set by the coupling)
        em: Emergency = sc.emergency
        self.em = em
        self.env: simpy.Environment = model.env
        terr = model.terr
        self.terr = terr
        # streams drawn as events happen are each partition's own (the same for one partition)
        n_parts = getattr(model, "partitions", 1)
        own = "" if self.role == "whole" or n_parts == 1 else f"/p{model.part}of{n_parts}"
        self.rng_delays = stream_rng(model.seed_value, "emergency.delays" + own)
        n_comm = terr.n_communities
        self.cat_names = list(em.categories)
        self.K = len(self.cat_names)
        self.CHECK = self.K
        # ---------------------------------------------------------------- areas
        self.hazard_comm = self.community_mask(em.area)
        grid_mask = {
            name: self.community_mask(c.area if c.area is not None else em.area)[terr.grid_community]
            for name, c in em.categories.items()
        }
        # a partition keeps its own communities' share of what the whole territory draws (the
        # same streams whatever the partition count: only the assignment differs)
        if self.role == "whole":
            self.own_comm = np.ones(n_comm, dtype=bool)
        else:
            self.own_comm = np.asarray(model.own_streets)[terr.community_street]
        territory_arrivals = generate(
            em, terr.residents, grid_mask, model.horizon, stream_rng(model.seed_value, "emergency.arrivals")
        )
        self.arrivals: Arrivals = territory_arrivals.subset(self.own_comm[terr.grid_community])
        # ---------------------------------------------------------------- vulnerable residents
        res = model.residents
        vul = np.zeros(res.n_households, dtype=bool)
        if em.checks.elders_alone:
            vul |= res.elder_alone
        if em.checks.disabled:
            vul |= res.disabled
        grid_of_hh = np.repeat(np.arange(terr.n_grids), res.households_per_grid)
        comm_of_hh = terr.grid_community[grid_of_hh]
        check_comm = self.community_mask(em.checks.area if em.checks.area is not None else em.area)
        everyone = np.flatnonzero(vul & check_comm[comm_of_hh])  # the territory's (the roster's need counts them all)
        rng_checks = stream_rng(model.seed_value, "emergency.checks")
        mine = self.own_comm[comm_of_hh[everyone]]
        self.check_travel = em.checks.travel_minutes.sample(rng_checks, everyone.size)[mine]
        self.check_minutes = em.checks.minutes.sample(rng_checks, everyone.size)[mine]
        self.vulnerable = everyone[mine]
        self.vulnerable_comm = comm_of_hh[self.vulnerable]
        # ---------------------------------------------------------------- roster and teams
        comm_res = np.bincount(terr.grid_community, weights=terr.residents, minlength=n_comm)
        need = np.bincount(comm_of_hh[everyone], minlength=n_comm).astype(float)
        for cat in em.categories.values():
            cm = self.community_mask(cat.area if cat.area is not None else em.area)
            expected = sum(w.rate_per_1000_per_day / 1000.0 * (w.end_hours - w.start_hours) / 24.0 for w in cat.windows)
            need += np.where(cm, comm_res, 0.0) * expected
        roster = build_roster(
            em, terr.street_names, comm_res, need, self.hazard_comm, stream_rng(model.seed_value, "emergency.roster")
        )
        self.units: list[UnitInfo] = roster.units
        mine = self._own_members(roster.residence, roster.destination)
        self.member_ids = np.flatnonzero(mine)  # each member's place on the territory's roster
        self.members = Members(model, roster.unit[mine], roster.role[mine], roster.residence[mine], roster.destination[mine])
        own_stations = {id(s) for s in model.own_stations()} if self.role != "whole" else None
        self.unit_stations: list[list[Station]] = [
            [s for s in self._stations_of(u) if own_stations is None or id(s) in own_stations] for u in self.units
        ]
        self.local_away = np.zeros(len(self.units), dtype=np.int64)  # this partition's members away, per unit
        self.part_away: dict[int, np.ndarray] = {}  # the shared level: each partition's last report of them
        self.teams: list[EmergencyTeam] = []
        self.team_at: list[list[int]] = []  # community → team indices (mobilised teams first, the desk last)
        self.mob_team_at: list[list[int]] = []
        # specialist responders: their categories leave the mobilised teams and the desks
        self.special_of: dict[int, int] = {
            self.cat_names.index(c): j for j, sp in enumerate(em.specialists.values()) for c in sp.handles
        }
        self.specialists: list[EmergencyTeam] = [
            EmergencyTeam(model, f"SR-{name}", -1, name, [self.cat_names.index(c) for c in sp.handles], sp.crews, 1.0)
            for name, sp in em.specialists.items()
        ]
        # one district-wide pool, whatever P: a street partition replays it whole (see _arrival_process)
        self.rng_special = stream_rng(model.seed_value, "emergency.specialists")
        self.pool_calls = self._pool_calls(territory_arrivals)
        team_specs = list(em.teams.items())
        self.grid_staff_team: list[int] = []  # community → its grid-staff team
        redeploy_kinds = [self.cat_names.index(h) for h in em.redeploy.handles if self.cat_names.index(h) not in self.special_of]
        self.redeployment = Redeployment(
            em.redeploy,
            model.workers,
            model.offices,
            terr.grid_community,
            self.community_mask(em.redeploy.area if em.redeploy.area is not None else em.area),
            model.properties,
            self.own_comm,
        )
        self.team_share = np.array([t.share for _, t in team_specs])
        for c, cname in enumerate(terr.community_names):
            idx: list[int] = []
            for name, t in team_specs:
                kinds = [self.cat_names.index(h) for h in t.handles if self.cat_names.index(h) not in self.special_of]
                kinds = [self.CHECK] if t.checks else [*kinds, self.CHECK]
                idx.append(len(self.teams))
                self.teams.append(EmergencyTeam(model, f"ET-{cname}-{name}", c, name, kinds, None, em.on_duty_share))
            self.mob_team_at.append(list(idx))
            # the community's own grid workers and staff on emergency duties (head count set by the rule)
            self.grid_staff_team.append(len(self.teams))
            idx.append(len(self.teams))
            self.teams.append(EmergencyTeam(model, f"GRID-{cname}", c, "grid_staff", [*redeploy_kinds, self.CHECK], 0, 1.0))
            if em.desk.staff_per_community > 0:
                idx.append(len(self.teams))
                self.teams.append(
                    EmergencyTeam(
                        model,
                        f"DESK-{cname}",
                        c,
                        "desk",
                        [k for k in range(self.K) if k not in self.special_of],
                        em.desk.staff_per_community,
                        1.0,
                    )
                )
            self.team_at.append(idx)
        self.queues: list[list[deque[EmergencyWork]]] = [[deque() for _ in range(self.K + 1)] for _ in range(n_comm)]
        self.on_call = OnCall(
            self,
            [EmergencyTeam(model, f"CALL-{cname}", c, "on_call", [], 0, 1.0) for c, cname in enumerate(terr.community_names)],
            stream_rng(model.seed_value, "emergency.on_call" + own),
        )
        # ---------------------------------------------------------------- controller
        self.controller = ModeController(
            clock=lambda: self.env.now, enabled=em.switching, allow_skip=em.response.allow_skip
        )
        self.controller.subscribe(self._on_change)
        self.board = ResponseBoard(em.response)
        self.monitors = [
            (
                RuleMonitor(
                    self.controller,
                    [Rule(r.to, r.metric, r.enter_above, r.enter_for_minutes, r.leave_below, r.leave_for_minutes)],
                    advisory=em.response.trigger != "rules",
                ),
                r,
            )
            for r in em.rules
        ]
        eng = model.engine
        tiers = dict(eng.sla.tiers)
        base = tiers.get(E_TIER)
        tiers[E_TIER] = TierRule(
            E_TIER,
            em.sla_due_hours * 60.0,
            base.allowance_minutes if base else (None, None, None, None),
            "emergency category in 应下尽下/全员下沉",
        )
        eng.sla = SlaPolicy(tiers)
        # ---------------------------------------------------------------- records
        n = len(self.arrivals)
        self.e_case_id: list[str] = [""] * n
        self.e_reported = np.full(n, np.nan)
        self.e_on_site = np.full(n, np.nan)
        self.e_resolved = np.full(n, np.nan)
        self.e_by_desk = np.zeros(n, dtype=bool)
        self.e_specialist = np.full(n, "", dtype=object)  # the specialist responder that took the case
        self.e_mode = np.full(n, "", dtype=object)
        self.e_open = 0
        self.e_overdue_heap: list[float] = []
        self._report_times: list[float] = []
        self.duty: Duty | None = None
        self.episodes: list[Episode] = []
        self.on_site_log: list[tuple[float, int]] = [(0.0, 0)]
        #: every call-up: (notified at, member, team index, minutes to the community, mode) — the
        #: load test plays these members' check-ins (报到) at the model's own arrival times
        self.call_ups: list[tuple[float, int, int, float, str]] = []
        self.series: list[dict[str, Any]] = []
        self.home_stations: list[Station] = [s for ss in self.unit_stations for s in ss]
        self.heads_target: dict[int, float] = {id(s): float(s.headcount) for s in self.home_stations}
        self.heads_residual: dict[int, float] = {id(s): 0.0 for s in self.home_stations}
        # ---------------------------------------------------------------- hooks into the model
        if em.surges:
            model.incidents.add_rate_modifier(self._surge_modifier)
        model.add_process(self._arrival_process)
        decides = self.role != "street"  # a street partition takes the district's decisions from its notices
        if em.schedule and decides:
            model.add_process(self._schedule_process)
        if (em.warnings or em.responses) and decides:
            model.add_process(self._declared_process)
        if em.rules and decides:
            model.add_process(self._rule_process)
        self.reported_times: list[float] = []  # the shared level: every partition's report times, as reported
        self.part_backlog: dict[int, Backlog] = {}  # the shared level: each partition's last reported backlog
        self._reported_upto = 0
        self._noticed_away: tuple[int, ...] = tuple(0 for _ in self.units)
        self._applying = False
        model.add_process(self._sampler)
        if self.home_stations:
            model.add_process(self._heads_process)

    # ------------------------------------------------------------------ structure
    def _own_members(self, residence: np.ndarray, destination: np.ndarray) -> np.ndarray:
        """The roster members this model simulates: in a street partition those going down to
        (else registered in) its communities, and the never-sent rest in partition 0."""
        if self.role == "whole":
            return np.ones(residence.size, dtype=bool)
        if self.role == "shared":
            return np.zeros(residence.size, dtype=bool)
        home = np.where(destination >= 0, destination, residence)
        nowhere = home < 0
        return np.where(nowhere, self.m.part == 0, self.own_comm[np.maximum(home, 0)])

    def _pool_calls(self, territory: Arrivals) -> Arrivals | None:
        """The other street partitions' calls on the specialist pool, or None (one partition,
        the whole model, the shared level, no specialists).

        A specialist responder (fire and rescue, 120, 110) is one district-wide pool of crews,
        and its calls are exogenous: they are the territory's emergency arrivals of the
        categories it handles, drawn up front with the same draws at every P, dispatched the
        moment they are reported (a 119/120/110 call is answered and dispatched at once; no
        street↔district sign-for lies between) and served oldest first. So every street
        partition replays the one pool exactly — its own calls as cases, the others' as calls
        that only hold a crew — with the pool's response draws from one stream in the order the
        crews set off: the same crews, queues, response times and dispatch times at every P,
        with no latency added and no message between partitions."""
        if self.role != "street" or not self.special_of or len(self.arrivals) == len(territory):
            return None
        others = ~self.own_comm[self.terr.grid_community[territory.grid]]
        return territory.rows(others & np.isin(territory.category, list(self.special_of)))

    # ------------------------------------------------------------------ coupling (twin.coupling)
    def window_report(self, until: float) -> tuple[Any, ...]:
        """A street partition's figures for the district command at a window's end: its part,
        the emergency cases it reported since the last report, its open and overdue ones,
        and its members away from each unit (the ``report`` handover)."""
        times = tuple(self._report_times[self._reported_upto:])
        self._reported_upto = len(self._report_times)
        e = self.emergency_backlog()
        return (self.m.part, times, e.open, e.overdue, tuple(self.local_away.tolist()))

    def on_handover(self, kind: str, payload: tuple[Any, ...]) -> None:
        """Act on a ``report`` (the shared level) or a ``mode`` notice (a street partition)."""
        if kind == "report":
            part, times, open_, overdue, away = payload
            for t in times:
                bisect.insort(self.reported_times, t)
            self.part_backlog[part] = Backlog(open_, overdue)
            self.part_away[part] = np.asarray(away, dtype=np.int64)
            self._set_away(np.sum(list(self.part_away.values()), axis=0))
            return
        what, *rest = payload
        if what == "units":
            self._set_away(np.asarray(rest[0], dtype=np.int64))
        else:
            to, cause, source, actor = rest
            self.controller.command(to, cause, actor=actor, source=source)

    def units_notice(self) -> tuple[Any, ...] | None:
        """The shared level at a window's end: the members away from every unit, if that changed
        since the last notice (each street sets its own stations of those units by it)."""
        away = tuple(int(u.away) for u in self.units)
        if away == self._noticed_away:
            return None
        self._noticed_away = away
        return ("units", away)

    def _set_away(self, away: np.ndarray) -> None:
        self._applying = True
        for u, n in enumerate(away.tolist()):
            if n != self.units[u].away:
                self.unit_away(u, int(n) - self.units[u].away)
        self._applying = False

    def _broadcast(self, ch: ModeChange) -> None:
        """The district command's decision reaches every street one handover later (the notice)."""
        if self.send is None or not ch.applied:
            return
        for k in range(self.streets):
            self.send(ch.at, k, "mode", ("switch", ch.to_mode, ch.cause, ch.source, ch.actor))

    @property
    def emergency_reported(self) -> int:
        """Emergency cases reported so far."""
        return len(self._report_times)

    def community_mask(self, area: Area | None) -> np.ndarray:
        terr = self.terr
        if area is None or (not area.streets and not area.communities):
            return np.ones(terr.n_communities, dtype=bool)
        mask = np.isin(terr.community_street, area.streets)
        if area.communities:
            mask |= np.isin(np.asarray(terr.community_names), area.communities)
        return mask

    def _stations_of(self, u: UnitInfo) -> list[Station]:
        m = self.m
        dept_names = list(m.scenario.staffing.departments)
        board_names = list(m.scenario.staffing.boards)
        out: list[Station] = []
        for ref in u.station_refs:
            kind, _, name = ref.partition(".")
            if kind == "departments":
                out.append(m.departments[dept_names.index(name)])
            else:
                out.append(m.boards[u.street if u.street is not None else 0][board_names.index(name)])
        return out

    @property
    def mode(self) -> str:
        return self.controller.mode

    def mobilisable(self, mode: str) -> int:
        """Head count a mode sends down: everyone whose role the mode does not exempt."""
        return mobilisable_count(self.members.role, self.members.destination, mode)

    # ------------------------------------------------------------------ manual API (drill console, HTTP)
    def command(self, to: str, cause: str, actor: str = "") -> ModeChange:
        """Change the mode now by one legal step; raises :class:`twin.modes.IllegalModeChange`."""
        return self.controller.command(to, cause, actor=actor, source="manual")

    def inject(self, kind: int, grid: int, travel: float, effort: float, actor: str = "drill") -> str:
        """Report one extra emergency case (tier E, category index ``kind``) at ``grid`` now and
        dispatch it like the scenario's own arrivals (a drill inject); returns the case id."""
        a = self.arrivals
        i = len(a)
        a.time = np.append(a.time, self.env.now)
        a.grid = np.append(a.grid, np.int64(grid))
        a.category = np.append(a.category, np.int64(kind))
        a.app = np.append(a.app, False)
        a.travel = np.append(a.travel, travel)
        a.effort = np.append(a.effort, effort)
        self.e_case_id.append("")
        self.e_reported = np.append(self.e_reported, np.nan)
        self.e_on_site = np.append(self.e_on_site, np.nan)
        self.e_resolved = np.append(self.e_resolved, np.nan)
        self.e_by_desk = np.append(self.e_by_desk, False)
        self.e_specialist = np.append(self.e_specialist, np.array([""], dtype=object))
        self.e_mode = np.append(self.e_mode, np.array([""], dtype=object))
        self._report(i, Source.HOTLINE, actor)
        return self.e_case_id[i]

    def _report(self, i: int, source: Source, actor: str) -> None:
        """Report arrival row ``i`` to the engine now and dispatch it."""
        a = self.arrivals
        g = int(a.grid[i])
        case = self.m.engine.report(
            category=self.cat_names[int(a.category[i])],
            tier=E_TIER,
            place=self.terr.places[g],
            source=source,
            actor=actor,
        )
        now = self.env.now
        self.e_case_id[i] = case.id
        self.e_reported[i] = now
        self.e_mode[i] = self.controller.mode
        self.e_open += 1
        self._report_times.append(now)
        self._dispatch(
            EmergencyWork(
                int(a.category[i]),
                int(self.terr.grid_community[g]),
                now,
                float(a.travel[i]),
                float(a.effort[i]),
                i,
                case,
            )
        )

    # ------------------------------------------------------------------ mode changes
    def _on_change(self, ch: ModeChange) -> None:
        if not ch.applied:
            return
        now = self.env.now
        self.m.engine.mode = ch.to_mode
        if self.role == "shared":  # the command decides; the streets act on its notice
            self._broadcast(ch)
            return
        old, new = mobilised_roles(ch.from_mode), mobilised_roles(ch.to_mode)
        mem = self.members
        up = [ROLE_INDEX[r] for r in new - old]
        down = [ROLE_INDEX[r] for r in old - new]
        if up:
            for k in np.flatnonzero(np.isin(mem.role, up) & (mem.destination >= 0)):
                self._notify(int(k), ch.to_mode)
            self.episodes.append(Episode(ch.to_mode, now, self.mobilisable(ch.to_mode)))
            self._check_episodes()
        if down:
            for k in np.flatnonzero(np.isin(mem.role, down)):
                self._stand_down(int(k))
        if ch.to_mode == "emergency" and ch.from_mode == "normal" and self.duty is None:
            self._start_duty(now)
        self._redeploy(ch.to_mode, now)

    def _redeploy(self, mode: str, now: float) -> None:
        """Grid workers and community staff change jobs by the mode's rule; in each community the
        people on emergency duties (on duty by the shift share) staff its grid-staff team."""
        people = self.redeployment.apply(mode, now)
        for c, i in enumerate(self.grid_staff_team):
            team = self.teams[i]
            n = float(people[c])
            team.fixed = 0 if n <= 0 else max(1, int(n * self.em.on_duty_share))
            self._pull(team)

    def _pick_team(self, c: int) -> int:
        idx = self.mob_team_at[c]
        counts = np.array([self.teams[i].assigned for i in idx], dtype=float)
        deficit = self.team_share * (counts.sum() + 1.0) - counts
        return idx[int(np.argmax(deficit))]

    def _notify(self, k: int, mode: str) -> None:
        mem = self.members
        st = mem.state[k]
        if st in (EN_ROUTE, ON_SITE):
            return
        if st == HOME:
            self.unit_away(int(mem.unit[k]), +1)
        mem.state[k] = EN_ROUTE
        mem.token[k] += 1
        mem.ever_mobilised[k] = True
        mem.mobilised_in[k].add(mode)
        t = self._pick_team(int(mem.destination[k]))
        mem.team[k] = t
        self.teams[t].assigned += 1
        delay = float(self.em.arrival_minutes.sample(self.rng_delays, 1)[0])
        self.call_ups.append((float(self.env.now), k, t, delay, mode))
        tok = int(mem.token[k])
        self.env.timeout(delay).callbacks.append(partial(self._arrive, k, tok))

    def transfer(self, members: Sequence[int], community: int, delays: Sequence[float]) -> None:
        """Send mobilised ``members`` (on site or on the way) to ``community``: each leaves its
        team now, travels its delay in minutes and joins the target's team furthest below its
        share (the drill console's "send team"; who goes is the caller's choice)."""
        mem = self.members
        teams = self.teams
        for k in members:  # all or nobody
            if mem.state[k] not in (EN_ROUTE, ON_SITE) or mem.team[k] < 0:
                raise ValueError(f"member {k} is not mobilised")
        left_site = False
        for k, delay in zip(members, delays, strict=True):
            old = teams[int(mem.team[k])]
            old.assigned -= 1
            if mem.state[k] == ON_SITE:
                old.on_site -= 1
                left_site = True
            mem.destination[k] = community
            t = self._pick_team(community)
            mem.team[k] = t
            teams[t].assigned += 1
            mem.state[k] = EN_ROUTE
            mem.token[k] += 1
            self.env.timeout(float(delay)).callbacks.append(partial(self._arrive, int(k), int(mem.token[k])))
        if left_site:
            self._log_on_site()

    def _arrive(self, k: int, tok: int, _event: object = None) -> None:
        mem = self.members
        if mem.token[k] != tok or mem.state[k] != EN_ROUTE:
            return
        mem.state[k] = ON_SITE
        team = self.teams[int(mem.team[k])]
        team.on_site += 1
        self._log_on_site()
        self._pull(team)

    def _stand_down(self, k: int) -> None:
        mem = self.members
        st = mem.state[k]
        if st not in (EN_ROUTE, ON_SITE):  # at home, on the way back, or out on a call (有呼必应)
            return
        team = self.teams[int(mem.team[k])]
        team.assigned -= 1
        if st == ON_SITE:
            team.on_site -= 1
        mem.state[k] = RETURNING
        mem.team[k] = -1
        mem.token[k] += 1
        tok = int(mem.token[k])
        delay = float(self.em.demobilisation_minutes.sample(self.rng_delays, 1)[0])
        self.env.timeout(delay).callbacks.append(partial(self._returned, k, tok))
        if st == ON_SITE:
            self._log_on_site()

    def _returned(self, k: int, tok: int, _event: object = None) -> None:
        mem = self.members
        if mem.token[k] != tok or mem.state[k] != RETURNING:
            return
        mem.state[k] = HOME
        self.unit_away(int(mem.unit[k]), -1)

    def unit_away(self, u: int, delta: int) -> None:
        """A member of unit ``u`` left (+1) or came back (−1): its stations' heads follow the
        share of the unit's staff present (``headcount × present``, fractional)."""
        if self.role == "street" and not self._applying:
            self.local_away[u] += delta  # reported to the district; the heads follow its notice
            return
        unit = self.units[u]
        unit.away += delta
        present = 1.0 - unit.away / unit.staff
        for s in self.unit_stations[u]:
            key = id(s)
            self.heads_target[key] = s.headcount * present
            if unit.away == 0:
                self.heads_residual[key] = 0.0  # everyone back: exactly the full head count again
            self._set_heads(s, int(np.floor(self.heads_residual[key] + self.heads_target[key] + 1e-9)))

    def _set_heads(self, s: Station, n: int) -> None:
        """Heads on duty at a station; 0 closes it to new cases (cases in hand finish). A unit
        whose fractional share is below one is on duty only part of the time (see
        :meth:`_heads_process`)."""
        s.set_capacity(n, floor=0)

    def _heads_process(self) -> Generator[simpy.Event, Any, None]:
        """Hourly: a station with a fractional head count (e.g. 0.3 of a case officer) is staffed
        floor(…) or one more head by error diffusion, so its time-averaged heads equal the target."""
        env = self.env
        while True:
            yield env.timeout(60.0)
            for s in self.home_stations:
                key = id(s)
                r = self.heads_residual[key] + self.heads_target[key]
                n = int(np.floor(r + 1e-9))
                self.heads_residual[key] = max(0.0, r - n)
                self._set_heads(s, n)

    def _log_on_site(self) -> None:
        self.on_site_log.append((self.env.now, self.members.on_site()))
        self._check_episodes()

    def _check_episodes(self) -> None:
        if not self.episodes:
            return
        ep = self.episodes[-1]
        if ep.t90 is not None or self.controller.mode != ep.to:
            return
        n = self.members.on_site()
        now = self.env.now
        if ep.t50 is None and n >= 0.5 * ep.mobilisable:
            ep.t50 = now - ep.at
        if n >= 0.9 * ep.mobilisable:
            ep.t90 = now - ep.at

    # ------------------------------------------------------------------ work
    def _dispatch(self, job: EmergencyWork) -> None:
        j = self.special_of.get(job.kind)
        if j is not None:
            sr = self.specialists[j]
            if sr.free:
                self.start_work(sr, job)
            else:
                self.queues[job.community][job.kind].append(job)
            return
        for i in self.team_at[job.community]:
            team = self.teams[i]
            if job.kind in team.kinds and team.free:
                self.start_work(team, job)
                return
        self.queues[job.community][job.kind].append(job)
        if job.kind != self.CHECK:
            self.on_call.queued(job)  # normal mode: the community may call for help (有呼必应)

    def _next(self, team: EmergencyTeam) -> EmergencyWork | None:
        if team.community < 0:  # a specialist responder: the oldest of its cases in any community
            waiting = [q for qs in self.queues for k in team.kinds if (q := qs[k])]
            return min(waiting, key=lambda q: q[0].t).popleft() if waiting else None
        qs = self.queues[team.community]
        best: deque[EmergencyWork] | None = None
        for k in team.kinds:
            if k == self.CHECK:
                continue
            q = qs[k]
            if q and (best is None or q[0].t < best[0].t):
                best = q
        if best is not None:
            return best.popleft()
        if self.CHECK in team.kinds and qs[self.CHECK]:
            return qs[self.CHECK].popleft()
        return None

    def _pull(self, team: EmergencyTeam) -> None:
        while team.free:
            job = self._next(team)
            if job is None:
                return
            self.start_work(team, job)

    def start_work(self, team: EmergencyTeam, job: EmergencyWork) -> None:
        """``team`` takes ``job`` now (a free head is the caller's business): a check runs its
        course; a case is accepted, dispatched and its responders set off for the scene."""
        team.busy += 1
        team.served += 1
        team.busy_minutes += job.travel + job.effort
        env = self.env
        if job.kind == self.CHECK:
            env.timeout(job.travel + job.effort).callbacks.append(partial(self._check_done, team, job))
            return
        if not job.ghost:
            eng = self.m.engine
            c = job.case
            if c.state is State.REPORTED:
                c = eng.accept(c.id, c.version, team.name)
            job.case = eng.dispatch(c.id, c.version, team.name, (team.name,))
        if team.community < 0:  # specialist: its own response time, not the grid's travel
            j = self.special_of[job.kind]
            job.travel = float(list(self.em.specialists.values())[j].response_minutes.sample(self.rng_special, 1)[0])
            if job.ghost:  # another partition's call: it holds the crew here for as long as there
                env.timeout(job.travel).callbacks.append(partial(self._on_scene, team, job))
                return
            self.e_specialist[job.index] = team.team
        else:
            self.e_by_desk[job.index] = team.team == "desk"
        env.timeout(job.travel).callbacks.append(partial(self._on_scene, team, job))

    def _on_scene(self, team: EmergencyTeam, job: EmergencyWork, _event: object = None) -> None:
        if job.ghost:
            self.env.timeout(job.effort).callbacks.append(partial(self._case_done, team, job))
            return
        eng = self.m.engine
        c = job.case
        job.case = eng.start(c.id, c.version, team.name)
        self.e_on_site[job.index] = self.env.now
        self.env.timeout(job.effort).callbacks.append(partial(self._case_done, team, job))

    def _case_done(self, team: EmergencyTeam, job: EmergencyWork, _event: object = None) -> None:
        if job.ghost:
            team.busy -= 1
            self._pull(team)
            return
        eng = self.m.engine
        c = job.case
        c = eng.resolve(c.id, c.version, team.name)
        c = eng.verify(c.id, c.version, team.name)  # closed on the spot: the team confirms with the resident
        job.case = eng.close(c.id, c.version, team.name)
        self.e_resolved[job.index] = self.env.now
        self.e_open -= 1
        team.busy -= 1
        self._pull(team)

    def _check_done(self, team: EmergencyTeam, job: EmergencyWork, _event: object = None) -> None:
        assert self.duty is not None
        self.duty.done_at[job.index] = self.env.now
        team.busy -= 1
        self._pull(team)

    def _start_duty(self, now: float) -> None:
        n = self.vulnerable.size
        self.duty = Duty(now, now + self.em.checks.deadline_hours * 60.0, self.vulnerable, np.full(n, np.nan))
        for i in range(n):
            self._dispatch(
                EmergencyWork(
                    self.CHECK,
                    int(self.vulnerable_comm[i]),
                    now,
                    float(self.check_travel[i]),
                    float(self.check_minutes[i]),
                    i,
                )
            )

    # ------------------------------------------------------------------ processes
    def _arrival_process(self) -> Generator[simpy.Event, Any, None]:
        """Report the partition's emergency arrivals at their times; in a street partition of
        several, the other partitions' calls on the specialist pool join it in time order
        (see :meth:`_pool_calls`)."""
        env = self.env
        n = len(self.arrivals)
        times = self.arrivals.time[:n].tolist()
        apps = self.arrivals.app[:n].tolist()
        calls = self.pool_calls
        order = range(n) if calls is None else self._with_pool_calls(times, calls)
        for i in order:
            t = times[i] if i >= 0 else float(calls.time[-1 - i])  # type: ignore[union-attr]
            if t > env.now:
                yield env.timeout(t - env.now)
            if i < 0:
                self._pool_call(calls, -1 - i)  # type: ignore[arg-type]
                continue
            src = Source.APP if apps[i] else Source.HOTLINE
            self._report(i, src, str(src))

    @staticmethod
    def _with_pool_calls(times: list[float], calls: Arrivals) -> list[int]:
        """Own arrival rows ``i`` and the pool's other calls as ``-1 - j``, merged in time order
        (the territory's order: both are its time-sorted rows)."""
        merged = sorted([(t, 0, i) for i, t in enumerate(times)] + [(float(t), 1, -1 - j) for j, t in enumerate(calls.time)])
        return [i for _, _, i in merged]

    def _pool_call(self, calls: Arrivals, j: int) -> None:
        """Another partition's call ``j`` reaches the specialist pool now: it takes a crew or queues."""
        g = int(calls.grid[j])
        self._dispatch(
            EmergencyWork(int(calls.category[j]), int(self.terr.grid_community[g]), float(calls.time[j]),
                          float(calls.travel[j]), float(calls.effort[j]), j, ghost=True)
        )

    def _schedule_process(self) -> Generator[simpy.Event, Any, None]:
        env = self.env
        for step in sorted(self.em.schedule, key=lambda s: s.at_hours):
            t = step.at_hours * 60.0
            if t > env.now:
                yield env.timeout(t - env.now)
            self.controller.request(step.to, step.cause, "schedule")

    # ------------------------------------------------------------------ declarations
    def _area_label(self, area: Area | None) -> str:
        a = area if area is not None else self.em.area
        return ", ".join([f"S{s + 1:02d}" for s in a.streets] + list(a.communities)) or "whole territory"

    def issue_warning(
        self, wid: str, colour: str, type_: str = "rainstorm", area: Area | None = None
    ) -> dict[str, Any]:
        """Issue (or re-colour) a warning now — the timeline's and a drill script's path."""
        w = self.board.issue(self.env.now, wid, type_, colour, self._area_label(area))
        return self._follow_declared(f"{w.label} issued")

    def lift_warning(self, wid: str) -> dict[str, Any]:
        """Lift a warning now; KeyError naming the warnings in force if ``wid`` is not one."""
        w = self.board.lift(self.env.now, wid)
        return self._follow_declared(f"{w.label} lifted")

    def declare_level(self, did: str, level: str | None) -> dict[str, Any]:
        """Declare response level ``level`` now under ``did`` (``None``: lift it)."""
        if level is None:
            event = f"{LEVEL_LABELS[self.board.levels.get(did, 'IV')]} {did} lifted"
            self.board.end(self.env.now, did)
        else:
            event = f"{LEVEL_LABELS[level]} declared ({did})"
            self.board.declare(self.env.now, did, level)
        return self._follow_declared(event)

    def _follow_declared(self, event: str) -> dict[str, Any]:
        """Switch to the mode the level in force calls for (trigger "declared"), else advise it;
        the cause names the warning or level in force, or what was lifted."""
        ctl = self.controller
        target, in_force = self.board.target()
        cause = in_force if event.endswith("issued") or "declared" in event else f"{event}; {in_force}"
        if target != ctl.shadow:
            if self.em.response.trigger == "declared":
                for step in path_to(ctl.shadow, target, ctl.allow_skip):
                    ctl.request(step, cause, "declared")
            else:
                ctl.advise(target, cause)
        return self.board.state()

    def _declared_process(self) -> Generator[simpy.Event, Any, None]:
        env = self.env
        em = self.em
        events: list[tuple[float, int, partial[dict[str, Any]]]] = []
        for i, w in enumerate(em.warnings):
            wid = w.id or f"{w.type}-{w.colour}-{i}"
            events.append((w.issued_hours, 1, partial(self.issue_warning, wid, w.colour, w.type, w.area)))
            if w.lifted_hours is not None:
                events.append((w.lifted_hours, 0, partial(self.lift_warning, wid)))
        for i, d in enumerate(em.responses):
            did = f"response-{i}"
            events.append((d.declared_hours, 1, partial(self.declare_level, did, d.level)))
            if d.lifted_hours is not None:
                events.append((d.lifted_hours, 0, partial(self.declare_level, did, None)))
        for at_hours, _, fire in sorted(events, key=lambda e: (e[0], e[1])):
            t = at_hours * 60.0
            if t > env.now:
                yield env.timeout(t - env.now)
            fire()

    def emergency_backlog(self) -> Backlog:
        """Tier-E cases open now, and those past the emergency SLA."""
        if not self.e_open:
            return Backlog(0, 0)
        rep = self.e_reported
        open_ = np.isnan(self.e_resolved) & ~np.isnan(rep)
        return Backlog(self.e_open, int((open_ & (rep + self.em.sla_due_hours * 60.0 < self.env.now)).sum()))

    def snapshot(self) -> EmergencyState:
        """The state of the switchover now (see :class:`EmergencyState`)."""
        m = self.m
        d = self.duty
        return EmergencyState(
            t_min=float(self.env.now),
            mode=self.controller.mode,
            normal=m.flow.backlog(m.epoch + self.env.now),
            emergency=self.emergency_backlog(),
            reported=m.cases_reported + self.emergency_reported,
            on_site=self.members.on_site(),
            en_route=self.members.en_route(),
            checks_done=0 if d is None else int((~np.isnan(d.done_at)).sum()),
            checks_total=int(self.vulnerable.size),
            redeployed=self.redeployment.on_duties(),
            routine_backlog_hours=self.redeployment.routine_backlog_hours(),
        )

    def metrics(self, window: float) -> dict[str, float]:
        """The observed state the rules watch."""
        now = self.env.now
        times = self.reported_times if self.role == "shared" else self._report_times
        k = bisect.bisect_right(times, now) - bisect.bisect_right(times, now - window)
        if self.role == "shared":  # what the streets last reported
            e = Backlog(sum(b.open for b in self.part_backlog.values()), sum(b.overdue for b in self.part_backlog.values()))
        else:
            e = self.emergency_backlog()
        return {
            "emergency_reports_per_hour": k / (window / 60.0),
            "emergency_backlog": float(e.open),
            "emergency_overdue": float(e.overdue),
        }

    def _rule_process(self) -> Generator[simpy.Event, Any, None]:
        env = self.env
        every = self.em.rule_check_minutes
        while True:
            yield env.timeout(every)
            for mon, spec in self.monitors:
                mon.observe(env.now, self.metrics(spec.window_minutes))

    def home_unit_backlog(self) -> int:
        """Cases waiting for or being worked by the roster units' stations."""
        return int(sum(len(s.res.queue) + s.res.count for s in self.home_stations))

    def _sampler(self) -> Generator[simpy.Event, Any, None]:
        env = self.env
        every = self.em.sample_minutes
        while True:
            self._sample()
            yield env.timeout(every)

    def _sample(self) -> None:
        mem = self.members
        st = mem.state
        d = self.duty
        self.series.append(
            {
                "t_min": float(self.env.now),
                "mode": self.controller.mode,
                "mode_level": float(MODES.index(self.controller.mode)),
                "shadow_mode": self.controller.shadow,
                "on_site": float((st == ON_SITE).sum()),
                "en_route": float((st == EN_ROUTE).sum()),
                "returning": float((st == RETURNING).sum()),
                "emergency_backlog": float(self.e_open),
                "emergency_reported": float(len(self._report_times)),
                "normal_backlog": 0.0 if self.role == "shared" else float(len(self.m.flow.active)),  # shared: the streets' cases
                "home_unit_backlog": float(self.home_unit_backlog()),
                "home_unit_capacity": float(sum(s.capacity for s in self.home_stations)),
                "redeployed": self.redeployment.on_duties(),
                "routine_backlog_hours": self.redeployment.routine_backlog_hours(),
                "checks_done": float(0 if d is None else int((~np.isnan(d.done_at)).sum())),
                "checks_total": float(0 if d is None else d.done_at.size),
            }
        )

    # ------------------------------------------------------------------ roles (for tests and the summary)
    def role_names(self) -> list[str]:
        return [ROLES[r] for r in self.members.role]

    def _surge_modifier(self, day: int) -> np.ndarray:
        terr = self.terr
        names = list(self.m.scenario.categories)
        mult = np.ones((terr.n_grids, len(names)))
        for s in self.em.surges:
            a, b = s.start_hours / 24.0, s.end_hours / 24.0
            overlap = max(0.0, min(day + 1.0, b) - max(float(day), a))
            if overlap <= 0:
                continue
            rows = self.community_mask(s.area if s.area is not None else self.em.area)[terr.grid_community]
            mult[rows, names.index(s.category)] *= 1.0 + (s.multiplier - 1.0) * overlap
        return mult
