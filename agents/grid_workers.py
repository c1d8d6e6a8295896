"""Grid workers (网格员): teams per grid, patrols and household visits.

Full-time workers are derived per community from ``staffing.households_per_worker``: a
community of H households has round(H / households_per_worker) workers (at least one).
With more workers than grids, grids get teams of several; with fewer, one worker covers
several neighbouring grids. A team is a :class:`~twin.sim.stations.Station` (a
``simpy.Resource`` that cases compete for). Patrols and visits find latent needs: a public
space need is noticed per patrol pass with the category's visibility, a household need
when its household is visited (visit quota per worker-day, Daiwei 10 households a day);
part-time workers (兼职) add visits.
"""

from __future__ import annotations

import mesa
import numpy as np
import simpy

from twin.scenario import Scenario
from twin.sim.calendar import WorkCalendar
from twin.sim.stations import Station
from twin.sim.territory import Territory

#: A grid worker's routine activities, in the order they give way when the day is full:
#: household visits are the flexible part and are cut first (cases come before all of it).
ACTIVITIES: tuple[str, ...] = ("meetings", "tasks", "data", "patrol", "visits")


class GridTeam(Station):
    """The full-time grid worker(s) responsible for one or more grids.

    Besides cases, the team's working day holds its routine (``plan``: working minutes per
    full working day per activity). Each day the routine gets what the cases left of the
    day; ``routine_share`` is the share of yesterday's working time it took — the chance
    that a case finds its worker in the middle of a stretch of routine work.
    """

    role = "grid_worker"
    level = 0

    def setup_day(self, plan: dict[str, float], day_minutes: float) -> None:
        self.plan = plan
        self.routine_share = min(1.0, sum(plan.values()) / max(1e-9, self.headcount * day_minutes))



class GridWorkers:
    """Builds the teams and computes each day's patrol and visit discovery chances."""

    def __init__(self, model: mesa.Model, env: simpy.Environment, sc: Scenario, terr: Territory, cal: WorkCalendar) -> None:
        st = sc.staffing
        self.calendar = cal
        self.teams: list[GridTeam] = []
        self.team_of_grid = np.zeros(terr.n_grids, dtype=np.int64)
        workers_per_grid = np.zeros(terr.n_grids)
        for c in range(terr.n_communities):
            grids = np.flatnonzero(terr.grid_community == c)
            hh = float(terr.households[grids].sum())
            w = max(1, int(round(hh / st.households_per_worker)))
            if w >= grids.size:
                base, extra = divmod(w, grids.size)
                for k, g in enumerate(grids):
                    cap = base + (1 if k < extra else 0)
                    self.team_of_grid[g] = len(self.teams)
                    workers_per_grid[g] = cap
                    self.teams.append(GridTeam(model, env, f"W-{terr.grid_names[g]}", cap, cal))
                    self.teams[-1].street = int(terr.grid_street[g])
            else:
                for k in range(w):
                    mine = grids[k::w]
                    self.team_of_grid[mine] = len(self.teams)
                    workers_per_grid[mine] = 1.0 / mine.size
                    self.teams.append(GridTeam(model, env, f"W-{terr.grid_names[mine[0]]}+{mine.size - 1}", 1, cal))
                    self.teams[-1].street = int(terr.grid_street[mine[0]])
        self.workers_per_grid = workers_per_grid
        self.full_time_workers = int(sum(t.headcount for t in self.teams))
        self.part_time_per_grid = st.part_time_per_grid
        self.part_time_visit_share = st.part_time_visit_share
        self.part_time_patrol_share = st.part_time_patrol_share
        # building heads (楼栋长) pass on what they see in their own building to the grid worker
        covered = np.minimum(1.0, st.building_heads_per_grid * st.building_head_households / np.maximum(terr.households, 1.0))
        self.building_heads_find = covered * st.building_head_report_prob
        self.households = terr.households.astype(float)
        self.visit_quota = sc.policy.visit_quota
        self.visit_detect = sc.policy.visit_detect_prob
        self.passes = sc.policy.patrol_passes_per_day
        cats = list(sc.categories.values())
        self.public = np.array([c.public_space for c in cats])
        self.visibility = np.array([c.visibility for c in cats])
        self.weekday_minutes = max(cal.worked_between(d * 1440.0, (d + 1) * 1440.0) for d in range(7))
        # the working day's routine, per team (figures in the scenario's staffing.worker_day)
        wd = st.worker_day
        hh_team = np.bincount(self.team_of_grid, weights=self.households, minlength=len(self.teams))
        self.interrupt_after = wd.interrupt_after_minutes
        self.verify_minutes = wd.verify_minutes
        for t, team in enumerate(self.teams):
            cap = team.headcount
            team.setup_day({
                "meetings": cap * wd.meetings_minutes,
                "tasks": hh_team[t] / 100.0 * wd.tasks_minutes_per_100_households,
                "data": hh_team[t] * wd.data_minutes_per_household_month / wd.workdays_per_month,
                # a pass walks the worker's whole round: longer the more households it covers
                "patrol": self.passes * wd.patrol_minutes_per_pass * max(float(cap), hh_team[t] / 400.0),
                "visits": cap * self.visit_quota * wd.visit_minutes,
            }, self.weekday_minutes)
        self.visit_share_of_grid = np.ones(terr.n_grids)
        self.patrol_share_of_grid = np.ones(terr.n_grids)
        self._plan = np.array([[team.plan[a] for a in ACTIVITIES] for team in self.teams])  # (teams, activities)
        self._done = np.zeros_like(self._plan)
        self._case_mark = np.zeros(len(self.teams))
        self._day_closed = -1
        #: per-grid factor on patrols (1 = normal); the mode controller lowers it when workers are sent away
        self.patrol_factor = np.ones(terr.n_grids)
        # redeployment (issue 14): from each minute in the log on, the share of each team's working
        # day on emergency duties; the routine it displaces waits as a backlog (minutes)
        self._redeploy_log: list[tuple[float, np.ndarray]] = [(0.0, np.zeros(len(self.teams)))]
        self.routine_backlog = np.zeros(len(self.teams))

    def redeploy(self, at: float, share: np.ndarray) -> None:
        """From minute ``at`` on, ``share[t]`` of team ``t``'s working day goes to emergency duties
        (0: routine as usual). Called by the emergency component when the mode changes."""
        self._redeploy_log.append((float(at), np.clip(np.asarray(share, dtype=float), 0.0, 1.0)))

    def redeployed_share(self, day: int) -> np.ndarray:
        """Each team's share of day ``day`` (clock time) on emergency duties."""
        a, b = day * 1440.0, (day + 1) * 1440.0
        out = np.zeros(len(self.teams))
        log = self._redeploy_log
        for i, (t, share) in enumerate(log):
            end = log[i + 1][0] if i + 1 < len(log) else float("inf")
            overlap = min(b, end) - max(a, t)
            if overlap > 0:
                out += share * (overlap / 1440.0)
        return out

    def close_day(self, day: int) -> None:
        """Book day ``day``'s routine for every team (called once, when the next day starts)."""
        if day <= self._day_closed or day < 0:
            return
        self._day_closed = day
        working = self.calendar.worked_between(day * 1440.0, (day + 1) * 1440.0)
        duty = working / self.weekday_minutes
        teams = self.teams
        n = len(teams)
        busy = np.fromiter((t.busy for t in teams), float, n)
        heads = np.fromiter((t.headcount for t in teams), float, n)
        day_minutes = heads * working
        # cases took what they took; routine gets the rest, in the order of ACTIVITIES (visits last)
        left = np.maximum(0.0, day_minutes - (busy - self._case_mark))
        full = self._plan * duty
        away = self.redeployed_share(day)  # emergency duties take their share of the day first
        want = full * (1.0 - away)[:, None]
        left = left * (1.0 - away)
        upto = np.cumsum(want, axis=1)
        got = np.clip(np.minimum(upto, left[:, None]) - (upto - want), 0.0, None)
        self._done += got
        routine = got.sum(axis=1)
        # the routine the emergency displaced waits; back on routine, spare time works it off
        self.routine_backlog += (full - want).sum(axis=1)
        catch_up = np.minimum(self.routine_backlog, np.maximum(0.0, left - routine))
        self.routine_backlog -= catch_up
        routine = routine + catch_up
        busy += routine
        self._case_mark = busy
        # the chance a case finds its worker busy: routine and emergency duties alike
        share = np.divide(routine + away * day_minutes, day_minutes, out=np.zeros(n), where=day_minutes > 0)
        for t, b, r, w in zip(teams, busy.tolist(), share.tolist(), (day_minutes > 0).tolist(), strict=True):
            t.busy = b
            if w:
                t.routine_share = r
        ratio = np.divide(got, full, out=np.ones_like(got), where=full > 0)  # of the full plan: redeployed days visit less
        self.visit_share_of_grid = ratio[:, ACTIVITIES.index("visits")][self.team_of_grid]
        self.patrol_share_of_grid = ratio[:, ACTIVITIES.index("patrol")][self.team_of_grid]

    def routine_done(self) -> dict[str, dict[str, float]]:
        """Working minutes each team spent on each routine activity so far (team name → activity → minutes)."""
        return {t.name: dict(zip(ACTIVITIES, row, strict=True)) for t, row in zip(self.teams, self._done.tolist(), strict=True)}

    def discovery_prob(self, day: int) -> np.ndarray:
        """(grids × categories) chance that a latent need is found by a patrol or a visit today."""
        duty = self.calendar.worked_between(day * 1440.0, (day + 1) * 1440.0) / self.weekday_minutes
        w = self.workers_per_grid * self.patrol_factor * duty
        # every grid of a worker's round gets the round's passes (a worker covering several
        # grids walks them all), as far as yesterday's day left time to patrol
        passes = np.maximum(self.workers_per_grid, 1.0) * self.patrol_factor * duty * self.passes * self.patrol_share_of_grid
        passes = passes + self.part_time_per_grid * self.part_time_patrol_share * duty * self.passes  # part-timers' rounds
        public = 1.0 - (1.0 - self.visibility[None, :]) ** passes[:, None]
        # full-time workers make the visits their working day left room for yesterday
        visits = (w * self.visit_share_of_grid + self.part_time_per_grid * self.part_time_visit_share * duty) * self.visit_quota
        visited = np.minimum(1.0, visits / self.households) * self.visit_detect
        # … and building heads, who live there, pass on what they see any day
        household = (1.0 - (1.0 - visited) * (1.0 - self.building_heads_find))[:, None]
        return np.where(self.public[None, :], public, np.broadcast_to(household, public.shape))
