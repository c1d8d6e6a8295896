"""Redeployment: grid workers and community staff switch to emergency duties by rule (issue 14).

In 应下尽下 and 全员下沉 the platform's own people change jobs too, not only the mobilised
cadres: the grid workers (网格员) and community staff (社区工作者) of the affected communities
patrol the hazard area, go door to door, support evacuation and supply. :class:`Redeployment`
applies the scenario's rule (``[emergency.redeploy]``) at every applied mode change:

* each grid-worker team in scope gives its share of the working day to emergency duties —
  :meth:`agents.grid_workers.GridWorkers.redeploy`; the routine it displaces (visits, patrols,
  data, tasks) waits as a backlog that spare time works off once they are back;
* each community office in scope sends its share of staff and keeps ``office_keeps`` on cases
  (its station's head count falls, so ordinary cases wait longer there);
* the people redeployed in a community form its grid-staff team's head count (the component
  turns that into an emergency team answering checks and the categories the rule names).

Demobilisation (back to normal) returns everyone at once: they are in their own community.
Pure bookkeeping over the stations it is given; no random draws, so it never shifts a stream.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from agents.grid_workers import GridWorkers
from twin.scenario.emergency import Redeploy
from twin.sim.stations import Station


class RedeploymentLog:
    """What a run's redeployment leaves for the ``modes`` block: the rule, where it applies, the
    log of who was on emergency duties when, and the routine waiting at the end — small plain
    values, built in the process that ran the partition (:meth:`Redeployment.record`) and summed
    over partitions (:mod:`twin.emergency.merged`)."""

    def __init__(self, spec: Redeploy, area: np.ndarray, own: np.ndarray, log: list[tuple[float, str, float, int]],
                 property_log: list[int], backlog_hours: float) -> None:
        self.spec = spec
        self.area = area
        self.own = own
        self.n_comm = area.size
        self.log = log
        self.property_log = property_log
        self.backlog_hours = backlog_hours

    def scope(self, mode: str) -> np.ndarray:
        """The communities whose staff the rule sends in ``mode``."""
        if mode == "extreme" and self.spec.extreme_everywhere:
            return self.own.copy()
        return self.area & self.own if mode != "normal" else np.zeros(self.n_comm, dtype=bool)

    def routine_backlog_hours(self) -> float:
        """Grid workers' routine work waiting because of emergency duties, in working hours."""
        return self.backlog_hours

    def summary(self, series: list[dict[str, Any]]) -> dict[str, Any]:
        """The ``redeployed`` and ``routine_backlog`` entries of the ``modes`` block."""
        spec = self.spec
        totals = [g + c for _, _, g, c in self.log]
        i = int(np.argmax(totals))
        peak_g, peak_p = self.log[i][2], self.property_log[i]
        peak_c = self.log[i][3] - peak_p
        redeployed = {
            "peak": round(totals[i], 3),
            "peak_t_min": round(self.log[i][0], 3),
            "by_role": {"grid_worker": round(peak_g, 3), "community_staff": int(peak_c), "property_staff": int(peak_p)},
            "by_duty": {d: round(totals[i] * s, 2) for d, s in spec.duties.items()},
            "grid_worker_share_of_day": {m: float(v) for m, v in spec.grid_worker_share.items()},
            "community_staff_share": {m: float(v) for m, v in spec.community_staff_share.items()},
            "property_staff_share": {m: float(v) for m, v in spec.property_staff_share.items()},
            "office_keeps": spec.office_keeps,
            "changes": [
                {"t_min": round(t, 3), "mode": m, "grid_worker": round(g, 3), "community_staff": c - p, "property_staff": p}
                for (t, m, g, c), p in zip(self.log[1:], self.property_log[1:], strict=True)
            ],
            "source": spec.source,
        }
        t = np.array([r["t_min"] for r in series], dtype=float)
        b = np.array([r.get("routine_backlog_hours", 0.0) for r in series], dtype=float)
        back = [tt for tt, m, _, _ in self.log[1:] if m == "normal"]
        out: dict[str, Any] = {
            "unit": "working hours of grid workers' routine (visits, patrols, data, tasks) displaced by emergency duties",
            "peak_hours": None,
            "peak_t_min": None,
            "at_end_hours": None,
            "back_to_routine_min": None,
            "at_return_hours": None,
            "hours_to_clear_after_return": None,
        }
        if b.size:
            k = int(np.argmax(b))
            out |= {
                "peak_hours": round(float(b[k]), 2),
                "peak_t_min": round(float(t[k]), 3),
                "at_end_hours": round(self.routine_backlog_hours(), 2),
            }
            if back:
                ret = back[-1]
                after = np.flatnonzero((t >= ret) & (b <= 1e-9))
                out["back_to_routine_min"] = round(ret, 3)
                before = np.flatnonzero(t <= ret)  # booked by the return (days close at midnight)
                out["at_return_hours"] = round(float(b[before[-1]]), 2) if before.size else None
                out["hours_to_clear_after_return"] = (
                    round(float(t[after[0]] - ret) / 60.0, 2) if after.size and b.max() > 0 else None
                )
        return {"redeployed": redeployed, "routine_backlog": out}


class Redeployment(RedeploymentLog):
    """The rule, the people it concerns, and the log of who was on emergency duties when."""

    def __init__(
        self,
        spec: Redeploy,
        workers: GridWorkers,
        offices: list[Station],
        grid_community: np.ndarray,
        area: np.ndarray,
        properties: list[Station | None] | None = None,
        own: np.ndarray | None = None,
    ) -> None:
        """``own``: the communities this model simulates (a street partition's; default all)."""
        # area: community mask where the rule applies (in 全员下沉 maybe everywhere)
        super().__init__(spec, area, np.ones(area.size, dtype=bool) if own is None else own,
                         [(0.0, "normal", 0.0, 0)], [0], 0.0)
        self.workers = workers
        self.offices = offices
        n_comm = area.size
        comm_of_team = np.zeros(len(workers.teams), dtype=np.int64)
        comm_of_team[workers.team_of_grid] = grid_community  # a team's grids lie in one community
        self.comm_of_team = comm_of_team
        self.team_heads = np.array([t.headcount for t in workers.teams], dtype=float)
        self.office_staff = np.array([o.headcount for o in offices], dtype=np.int64)
        self.grid_people = np.zeros(n_comm)  # grid workers on emergency duties, per community
        self.grid_day_share = np.zeros(n_comm)  # … weighted by the share of their day
        self.office_people = np.zeros(n_comm, dtype=np.int64)  # community staff sent, per community
        #: the communities' property companies (物业) where the compounds have one
        self.properties: list[Station | None] = list(properties) if properties is not None else [None] * n_comm
        self.property_staff = np.array([0 if p is None else p.headcount for p in self.properties], dtype=np.int64)
        self.property_people = np.zeros(n_comm, dtype=np.int64)
        # log: (t, mode, grid, community + property); property_log: property staff within each entry

    def record(self) -> RedeploymentLog:
        """The log as small plain values (what the ``modes`` block reads)."""
        return RedeploymentLog(self.spec, self.area, self.own, list(self.log), list(self.property_log), self.routine_backlog_hours())

    def apply(self, mode: str, now: float) -> np.ndarray:
        """Put the rule of ``mode`` in force from ``now``; returns the people on emergency duties
        per community (grid workers and community staff)."""
        spec = self.spec
        mask = self.scope(mode)
        g_share = spec.grid_worker_share[mode] * mask[self.comm_of_team]  # type: ignore[index]
        self.workers.redeploy(now, g_share)
        on = g_share > 0
        self.grid_people = np.bincount(self.comm_of_team, weights=self.team_heads * on, minlength=self.n_comm).astype(float)
        self.grid_day_share = np.bincount(
            self.comm_of_team, weights=self.team_heads * g_share, minlength=self.n_comm
        ).astype(float)
        c_share = spec.community_staff_share[mode]  # type: ignore[index]
        for c, office in enumerate(self.offices):
            staff = int(self.office_staff[c])
            send = min(max(0, staff - spec.office_keeps), int(round(c_share * staff))) if mask[c] else 0
            self.office_people[c] = send
            office.set_capacity(staff - send)  # at least one head stays (the duty officer)
        p_share = spec.property_staff_share[mode]  # type: ignore[index]
        for c, company in enumerate(self.properties):
            if company is None:
                continue
            staff = int(self.property_staff[c])
            send = min(max(0, staff - spec.office_keeps), int(round(p_share * staff))) if mask[c] else 0
            self.property_people[c] = send
            company.set_capacity(staff - send)
        self.log.append((float(now), mode, float(self.grid_people.sum()), int(self.office_people.sum() + self.property_people.sum())))
        self.property_log.append(int(self.property_people.sum()))
        return self.grid_people + self.office_people + self.property_people

    # ------------------------------------------------------------------ observation
    def on_duties(self) -> float:
        """People on emergency duties now (grid workers, community and property staff)."""
        return float(self.grid_people.sum() + self.office_people.sum() + self.property_people.sum())

    def routine_backlog_hours(self) -> float:
        """Grid workers' routine work waiting because of emergency duties, in working hours."""
        return float(self.workers.routine_backlog.sum() / 60.0)
