"""One drill: the district model advanced on request, the trainer's actions applied and logged.

The session knows nothing of wall-time pacing or HTTP (see :mod:`twin.drill.runner` and
:mod:`twin.drill.server`); it is what the model-side tests drive. Every action — the
trainer's and the script's — goes into :attr:`DrillSession.log` with its simulated minute
and its wall time. Actions that change the model draw from their own random stream (named
in the log), so replaying the log on the same scenario and seed gives the same run
(:func:`replay`), and leaving the trainer's actions out gives the counterfactual.

An action at simulated minute *t* is applied between ``env.run(until=t)`` and the next
call, i.e. before the model's ordinary events at *t*; a replay schedules it as an urgent
event at *t*, which is the same place in the order.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Any

import numpy as np
import simpy
from simpy.events import URGENT

from twin.drill.effects import (
    DrillActionError,
    Places,
    category_index,
    inject_incident,
    send_team,
    surge_times,
    switch_mode,
)
from twin.drill.script import DrillScript
from twin.emergency.component import emergency_of
from twin.modes import MODE_LABELS, MODES, ModeError
from twin.rng import stream_rng
from twin.run import build_model
from twin.scenario import Scenario
from twin.scenario.emergency import Area
from twin.simtime import clock_text

#: Minutes between two rows of the drill's series (page sparkline, report timeline).
SAMPLE_MINUTES = 10.0
#: Action kinds that change the model (replayed); the others are control and notes.
MODEL_KINDS: frozenset[str] = frozenset({"mode", "incident", "surge", "team"})
KINDS: tuple[str, ...] = (
    "start",
    "pause",
    "resume",
    "speed",
    "mode",
    "incident",
    "surge",
    "team",
    "marker",
    "warning",
    "lift_warning",
    "skip",
    "end",
)
@dataclass
class Action:
    """One logged action: what, by whom, when (simulated minute and wall time), and what it did."""

    seq: int
    kind: str
    source: str  # "trainer" or "script"
    sim_min: float
    wall: str  # ISO 8601 UTC
    wall_s: float  # seconds since the drill started
    params: dict[str, Any]
    result: dict[str, Any] = field(default_factory=dict)
    ok: bool = True
    error: str = ""
    stream: str = ""  # the random stream its effects drew from ("" if none)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def place_area(p: dict[str, Any]) -> Area | None:
    """A warning's area from an action's ``place``: a street (S01) or a community (S01-C02);
    anything else (or nothing) means the hazard's area."""
    place = str(p.get("place") or "")
    if re.fullmatch(r"S\d{2}-C\d{2}", place):
        return Area(communities=[place])
    if re.fullmatch(r"S\d{2}", place):
        return Area(streets=[int(place[1:]) - 1])
    return None


def drill_scenario(sc: Scenario, script: DrillScript) -> Scenario:
    """The scenario as drilled: without automatic switching the trainee decides, so the
    schedule is taken out and declarations and rules only advise (trigger "manual"; the
    baseline gets the same)."""
    if script.automatic_switching or sc.emergency is None:
        return sc
    em = sc.emergency.model_copy(
        update={"schedule": [], "response": sc.emergency.response.model_copy(update={"trigger": "manual"})}
    )
    return sc.model_copy(update={"emergency": em})


class UrgentTimeout(simpy.Event):
    """SimPy's ``Timeout`` with URGENT priority: it fires ``delay`` minutes from now, before
    the ordinary events of that instant (a trainee's action lands before the model moves on)."""

    def __init__(self, env: simpy.Environment, delay: float) -> None:
        super().__init__(env)
        self._ok = True
        self._value = None
        env.schedule(self, URGENT, delay)


class DrillSession:
    """The model of one drill plus its log; thread-safe through :attr:`lock`."""

    def __init__(
        self,
        scenario: Scenario,
        script: DrillScript | None = None,
        seed: int | None = None,
        team: str = "",
        label: str = "",
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.script = script = script or DrillScript()
        self.scenario = sc = drill_scenario(scenario, script)
        if sc.emergency is None:
            raise DrillActionError("a drill needs a scenario with an [emergency] section")
        self.label = label or sc.meta.name
        self.team = team
        self.until_day = float(script.until_day if script.until_day is not None else sc.run.days)
        self.model = m = build_model(sc, seed=seed, days=self.until_day)
        self.comp = emergency_of(m)
        self.env: simpy.Environment = m.env
        self.places = Places.of(self.comp)
        self.horizon = m.horizon
        self.seed = m.seed_value
        self.lock = threading.RLock()
        self.wall_clock = wall_clock
        self.wall_start = wall_clock()
        self.log: list[Action] = []
        self.markers: list[dict[str, Any]] = []
        self.series: list[dict[str, Any]] = []
        self.ended = False
        self._trainer_streams = 0
        m.add_process(self._sampler)
        for i, inj in enumerate(script.injects):
            params = inj.model_dump(exclude_none=True)
            self.at(inj.at_hours * 60.0, partial(self._scripted, i, params))
        m.start()

    # ------------------------------------------------------------------ time
    @property
    def now(self) -> float:
        return float(self.env.now)

    @property
    def finished(self) -> bool:
        return self.now >= self.horizon

    def at(self, t: float, fn: Callable[[], object]) -> None:
        """Call ``fn`` at simulated minute ``t``, before the model's ordinary events at ``t``."""
        ev = UrgentTimeout(self.env, max(0.0, t - self.now))

        def fire(_e: simpy.Event) -> None:
            fn()

        ev.callbacks.append(fire)

    def advance(self, to: float) -> bool:
        """Run the model to simulated minute ``to`` (capped at the horizon); True when the end is reached."""
        with self.lock:
            target = min(float(to), self.horizon)
            if target > self.env.now:
                self.env.run(until=target)
            return self.finished

    def upcoming(self) -> list[tuple[float, str]]:
        """The scenario's warnings and response levels (issued, lifted) and the script's injects
        still ahead, as (simulated minute, what), soonest first — what skip-ahead jumps to."""
        em = self.scenario.emergency
        assert em is not None
        ev: list[tuple[float, str]] = []
        for i, w in enumerate(em.warnings):
            wid = w.id or f"{w.type}-{w.colour}-{i}"
            ev.append((w.issued_hours * 60.0, f"{w.colour} {w.type} warning {wid} issued"))
            if w.lifted_hours is not None:
                ev.append((w.lifted_hours * 60.0, f"{w.type} warning {wid} lifted"))
        for d in em.responses:
            ev.append((d.declared_hours * 60.0, f"level {d.level} response declared"))
            if d.lifted_hours is not None:
                ev.append((d.lifted_hours * 60.0, f"level {d.level} response lifted"))
        for st in em.schedule:
            ev.append((st.at_hours * 60.0, f"scheduled switch to {st.to}"))
        for inj in self.script.injects:
            ev.append((inj.at_hours * 60.0, f"scripted {inj.what} at {inj.place}"))
        return sorted((t, what) for t, what in ev if self.now < t <= self.horizon)

    def skip_ahead(self, source: str = "trainer") -> Action:
        """Run the model on to the next warning, response level or scripted inject and through
        everything due at that minute (so the page shows it); logged as ``skip``. The model's
        events in between happen as they would live, so a replay is unchanged."""
        with self.lock:
            if self.ended:
                raise DrillActionError("the drill has ended")
            ahead = self.upcoming()
            if not ahead:
                raise DrillActionError("nothing ahead to skip to: no warning, response level or inject is still to come")
            t, what = ahead[0]
            frm = self.now
            self.advance(t)
            while self.env.peek() <= t:  # the events of minute t too (the warning itself)
                self.env.step()
            return self._record("skip", source, {"from_min": frm, "to_min": t, "to": what})

    # ------------------------------------------------------------------ actions
    def _record(self, kind: str, source: str, params: dict[str, Any], stream: str = "") -> Action:
        now_wall = self.wall_clock()
        a = Action(
            seq=len(self.log),
            kind=kind,
            source=source,
            sim_min=self.now,
            wall=datetime.fromtimestamp(now_wall, UTC).isoformat(timespec="seconds"),
            wall_s=round(now_wall - self.wall_start, 3),
            params=dict(params),
            stream=stream,
        )
        self.log.append(a)
        return a

    def note(self, kind: str, params: dict[str, Any] | None = None, source: str = "trainer") -> Action:
        """Log a control action (start, pause, resume, speed, end) that does not touch the model."""
        if kind not in KINDS or kind in MODEL_KINDS or kind == "marker":
            raise DrillActionError(f"not a control action: {kind!r}")
        with self.lock:
            return self._record(kind, source, params or {})

    def act(self, kind: str, params: dict[str, Any], actor: str = "trainer") -> Action:
        """Apply a trainer's action now; the logged :class:`Action` says whether it worked.

        ``mode``: {to, cause?}; ``incident``: {place, category, count?}; ``surge``: {place,
        category, per_hour, hours}; ``team``: {community, size}; ``marker``: {place, note}."""
        with self.lock:
            if self.ended:
                raise DrillActionError("the drill has ended")
            stream = ""
            if kind in MODEL_KINDS:
                stream = f"drill.trainer.{self._trainer_streams}"
                self._trainer_streams += 1
            return self._apply(kind, params, "trainer", stream, actor)

    def _scripted(self, i: int, params: dict[str, Any]) -> None:
        kind = params.pop("what")
        params.pop("at_hours", None)
        self._apply(kind, params, "script", f"drill.script.{i}", "script")

    def reapply(self, kind: str, params: dict[str, Any], stream: str) -> Action:
        """Apply a logged trainer action again with the random stream it had (for replays)."""
        return self._apply(kind, params, "trainer", stream, "trainer")

    def _apply(self, kind: str, params: dict[str, Any], source: str, stream: str, actor: str) -> Action:
        if kind not in KINDS or kind in ("start", "pause", "resume", "speed", "end"):
            raise DrillActionError(
                f"unknown action {kind!r}: expected one of mode, incident, surge, team, marker, warning, lift_warning"
            )
        a = self._record(kind, source, params, stream)
        try:
            a.result = self._effect(kind, params, stream, actor)
        except (DrillActionError, ModeError) as exc:
            a.ok = False
            a.error = str(exc)
        except (KeyError, TypeError, ValueError) as exc:
            a.ok = False
            a.error = f"bad parameters for {kind}: {exc}"
        return a

    def _effect(self, kind: str, p: dict[str, Any], stream: str, actor: str) -> dict[str, Any]:
        comp = self.comp
        rng = stream_rng(self.seed, stream) if stream else None
        if kind == "mode":
            to = str(p["to"])
            if to not in MODES:
                raise DrillActionError(f"unknown mode {to!r}: expected one of {list(MODES)}")
            ch = switch_mode(comp, to, str(p.get("cause") or f"{actor}: switch to {MODE_LABELS[to]}"), actor)
            return {
                "from": ch.from_mode,
                "to": ch.to_mode,
                "mobilisable": comp.mobilisable(to) if to != "normal" else 0,
            }
        if kind == "incident":
            assert rng is not None
            k = category_index(comp, str(p["category"]))
            n = int(p.get("count", 1))
            if not 1 <= n <= 500:
                raise DrillActionError(f"count: expected 1…500, got {n}")
            grids = self.places.pick(rng, str(p["place"]), n)
            ids = [inject_incident(comp, rng, k, int(g)) for g in grids]
            return {"cases": ids, "grids": [comp.terr.grid_names[int(g)] for g in grids]}
        if kind == "surge":
            assert rng is not None
            k = category_index(comp, str(p["category"]))
            per_hour, hours = float(p["per_hour"]), float(p["hours"])
            if not (0 < per_hour <= 500 and 0 < hours <= 240):
                raise DrillActionError(f"expected 0 < per_hour ≤ 500 and 0 < hours ≤ 240, got {per_hour:g}, {hours:g}")
            times = surge_times(rng, self.now, per_hour, hours)
            grids = self.places.pick(rng, str(p["place"]), times.size)
            for t, g in zip(times.tolist(), grids.tolist(), strict=True):
                self.env.timeout(t - self.now).callbacks.append(partial(self._surge_one, rng, k, int(g)))
            return {"planned": int(times.size), "until_min": round(self.now + hours * 60.0, 3)}
        if kind == "team":
            assert rng is not None
            c = self.places.community(str(p["community"]))
            size = int(p["size"])
            if not 1 <= size <= 10_000:
                raise DrillActionError(f"size: expected 1…10000, got {size}")
            return send_team(comp, rng, c, size, self.script.transfer_minutes)
        if kind == "warning":
            return comp.issue_warning(str(p["id"]), str(p["colour"]), str(p.get("type") or "rainstorm"), place_area(p))
        if kind == "lift_warning":
            return comp.lift_warning(str(p["id"]))
        # marker
        place = str(p.get("place") or "")
        if place:
            self.places.grids(place)
        note = str(p.get("note") or "").strip()
        if not note:
            raise DrillActionError("a marker needs a note")
        mk = {"place": place, "note": note, "sim_min": self.now, "source": actor}
        self.markers.append(mk)
        return {"marker": len(self.markers) - 1}

    def _surge_one(self, rng: np.random.Generator, k: int, g: int, _e: object = None) -> None:
        inject_incident(self.comp, rng, k, g)

    def end(self) -> Action:
        with self.lock:
            a = self._record("end", "trainer", {})
            self.ended = True
            return a

    # ------------------------------------------------------------------ observation
    def _sampler(self) -> Any:
        env = self.env
        while True:
            self.series.append(self.kpis(full=False))
            yield env.timeout(SAMPLE_MINUTES)

    def _reported_total(self) -> int:
        return self.model.cases_reported + self.comp.emergency_reported

    def kpis(self, full: bool = True) -> dict[str, Any]:
        """The live figures: incoming, backlog, overdue, mobilised on site / on the way, checks."""
        comp = self.comp
        s = comp.snapshot()
        row: dict[str, Any] = {
            "t_min": self.now,
            "mode": s.mode,
            "reported_total": s.reported,
            "normal_backlog": s.normal.open,
            "normal_overdue": s.normal.overdue,
            "emergency_backlog": s.emergency.open,
            "emergency_overdue": s.emergency.overdue,
            "on_site": s.on_site,
            "en_route": s.en_route,
            "checks_done": s.checks_done,
            "checks_total": s.checks_total,
            "redeployed": int(round(s.redeployed)),
            "routine_backlog_hours": round(s.routine_backlog_hours, 1),
        }
        if full:
            row["incoming_per_hour"] = self.incoming_per_hour()
            row["backlog"] = row["normal_backlog"] + row["emergency_backlog"]
            row["overdue"] = row["normal_overdue"] + row["emergency_overdue"]
            row["mobilisable"] = {m_: comp.mobilisable(m_) for m_ in ("emergency", "extreme")}
        return row

    def incoming_per_hour(self) -> float:
        """Cases reported (ordinary and emergency) in the last simulated hour."""
        now = self.now
        if not self.series:
            return 0.0
        ts = np.array([r["t_min"] for r in self.series])
        k = int(np.searchsorted(ts, now - 60.0, side="right")) - 1
        if k < 0:
            span = max(now, 1e-9)
            return float(self._reported_total() / span * 60.0) if now > 0 else 0.0
        past = self.series[k]
        span = now - past["t_min"]
        return 0.0 if span <= 0 else float((self._reported_total() - past["reported_total"]) / span * 60.0)

    def grid_state(self) -> tuple[list[int], list[int]]:
        """Open and overdue cases per grid (ordinary and emergency)."""
        comp = self.comp
        m = self.model
        n = comp.terr.n_grids
        open_ = np.zeros(n, dtype=np.int64)
        over = np.zeros(n, dtype=np.int64)
        now_e = m.epoch + self.now
        for j in m.flow.active.values():
            g = j.rows.grid[j.row]  # type: ignore[attr-defined]  # Rows sets its slots in __init__
            open_[g] += 1
            if j.case.due_at < now_e:
                over[g] += 1
        rep, res = comp.e_reported, comp.e_resolved
        idx = np.flatnonzero(~np.isnan(rep) & np.isnan(res))
        g = comp.arrivals.grid[idx]
        np.add.at(open_, g, 1)
        late = rep[idx] + comp.em.sla_due_hours * 60.0 < self.now
        np.add.at(over, g[late], 1)
        return open_.tolist(), over.tolist()

    def layout(self) -> dict[str, Any]:
        """The territory for the page's map, and the choices its controls offer."""
        terr = self.comp.terr
        hazard = [terr.community_names[c] for c in np.flatnonzero(self.comp.hazard_comm)]
        return {
            "scenario": self.label,
            "team": self.team,
            "script": self.script.name,
            "seed": self.seed,
            "district": terr.district,
            "streets": [
                {
                    "name": s,
                    "communities": [
                        {
                            "name": terr.community_names[c],
                            "grids": [terr.grid_names[g] for g in np.flatnonzero(terr.grid_community == c)],
                        }
                        for c in np.flatnonzero(terr.community_street == i)
                    ],
                }
                for i, s in enumerate(terr.street_names)
            ],
            "hazard_communities": hazard,
            "categories": list(self.comp.cat_names),
            "modes": {m_: MODE_LABELS[m_] for m_ in MODES},
            "horizon_min": self.horizon,
        }

    def state(self) -> dict[str, Any]:
        """Everything the page shows, as JSON."""
        with self.lock:
            ctl = self.comp.controller
            open_, over = self.grid_state()
            return {
                "sim_min": self.now,
                "clock": clock_text(self.scenario.run.start_date, self.now),
                "horizon_min": self.horizon,
                "finished": self.finished,
                "ended": self.ended,
                "mode": ctl.mode,
                "mode_label": MODE_LABELS[ctl.mode],
                "legal_targets": ctl.legal_targets(),
                "mode_history": [{**c.to_dict(), "clock": clock_text(self.scenario.run.start_date, c.at)} for c in ctl.history],
                "advisories": [{**a.to_dict(), "clock": clock_text(self.scenario.run.start_date, a.at)} for a in ctl.advisories[-10:]],
                "declared": self.comp.board.state(),
                "next_event": next(
                    ({"at_min": t, "what": what, "clock": clock_text(self.scenario.run.start_date, t)} for t, what in self.upcoming()),
                    None,
                ),
                "kpis": self.kpis(),
                "grid_open": open_,
                "grid_overdue": over,
                "markers": list(self.markers),
                "series": self.series[-144:],
                "log": [{**a.to_dict(), "clock": clock_text(self.scenario.run.start_date, a.sim_min)} for a in self.log[-40:]],
            }

    def outcome(self) -> dict[str, Any]:
        """The outcome figures at the current minute, for the comparison with the baseline."""
        return outcome_of(self)


def _pct(a: np.ndarray, q: float) -> float | None:
    a = a[~np.isnan(a)]
    return None if a.size == 0 else round(float(np.percentile(a, q)), 1)


def outcome_of(s: DrillSession) -> dict[str, Any]:
    """What the drill achieved and cost by now: emergency response, vulnerable checks, normal work, people."""
    comp = s.comp
    now = s.now
    rep, res, on = comp.e_reported, comp.e_resolved, comp.e_on_site
    reported = ~np.isnan(rep)
    due = comp.em.sla_due_hours * 60.0
    resolved = reported & ~np.isnan(res)
    in_time = resolved & (res - rep <= due)
    decided = resolved | (reported & (rep + due < now))  # resolved, or already past due
    d = comp.duty
    checks_done = 0 if d is None else int((~np.isnan(d.done_at)).sum())
    checks_in_time = 0 if d is None else int((d.done_at <= d.deadline).sum())
    on_site = np.array([r["on_site"] for r in s.series], dtype=float)
    k = s.kpis(full=False)
    return {
        "at_min": round(now, 3),
        "emergency_reported": int(reported.sum()),
        "emergency_resolved": int(resolved.sum()),
        "emergency_open": int(k["emergency_backlog"]),
        "emergency_on_time_share": None if not decided.any() else round(float(in_time.sum() / decided.sum()), 4),
        "emergency_minutes_to_scene_p50": _pct(on[reported] - rep[reported], 50),
        "emergency_minutes_to_scene_p90": _pct(on[reported] - rep[reported], 90),
        "vulnerable_to_check": int(comp.vulnerable.size),
        "vulnerable_checked": checks_done,
        "vulnerable_checked_in_time": checks_in_time,
        "normal_open": int(k["normal_backlog"]),
        "normal_overdue": int(k["normal_overdue"]),
        "mobilised_on_site": int(k["on_site"]),
        "mobilised_en_route": int(k["en_route"]),
        "member_hours_on_site": round(float(on_site.sum() * SAMPLE_MINUTES / 60.0), 1),
        # from the component's log of every arrival and stand-down, not the sampled series: the
        # peak is exact, never below a count the live page showed
        "peak_on_site": max((n for t, n in comp.on_site_log if t <= now), default=0),
        "redeployed_peak": max((round(g + c) for t, _, g, c in comp.redeployment.log if t <= now), default=0),
        "routine_backlog_hours": k["routine_backlog_hours"],
    }


def replay(
    scenario: Scenario,
    script: DrillScript,
    seed: int | None,
    actions: list[dict[str, Any]],
    until_min: float,
    label: str = "",
) -> DrillSession:
    """Run the same scenario, seed and script with the given trainer actions applied at their
    simulated minutes (``[]``: the counterfactual without the trainee), up to ``until_min``."""
    s = DrillSession(scenario, script, seed=seed, label=label)
    for a in actions:
        if a["source"] != "trainer" or a["kind"] not in MODEL_KINDS | {"marker"} or not a["ok"]:
            continue
        s.at(float(a["sim_min"]), partial(s.reapply, a["kind"], dict(a["params"]), a["stream"]))
    s.advance(until_min)
    return s
