"""Ending a drill: the baseline run, the run directory, and the frozen record read back from it.

The run directory holds ``drill.json`` (scenario, seed, script, team, times, mode history,
markers), ``actions.jsonl`` (the log, one action a line), ``series.csv`` (the drill's and the
baseline's series) and ``outcome.json`` (both outcomes). The log is enough to replay the
drill: ``replay(scenario, script, seed, actions, until)`` gives the same run.

The after-action report is not written here: the drill's caller (``twin drill``) hands in an
``on_record`` hook that renders it from :func:`read_drill_record` — the drill never imports
the reports, and the report never reads a live session.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd

import twin
from twin.drill.session import Action, DrillSession, replay

#: Called with the run directory once it is written (the CLI renders the report there).
OnRecord = Callable[[Path], object]

#: The outcome's rows as people read them: (key, label, which way is better: "more", "less",
#: or "" — no verdict). Counts of cases are load, not merit: the trainee's injects add to them,
#: so they get no verdict. The after-action report and the comparison of teams share them.
OUTCOME_ROWS: tuple[tuple[str, str, str], ...] = (
    ("emergency_reported", "emergency cases reported (load, including the trainee's injects)", ""),
    ("emergency_resolved", "emergency cases resolved", ""),
    ("emergency_open", "emergency cases still open", "less"),
    ("emergency_on_time_share", "emergency cases resolved within the SLA (of those due)", "more"),
    ("emergency_minutes_to_scene_p50", "minutes from report to help on the scene, median", "less"),
    ("emergency_minutes_to_scene_p90", "minutes from report to help on the scene, 90th percentile", "less"),
    ("vulnerable_checked", "vulnerable residents checked", "more"),
    ("vulnerable_checked_in_time", "vulnerable residents checked before the deadline", "more"),
    ("normal_open", "ordinary cases open", "less"),
    ("normal_overdue", "ordinary cases overdue", "less"),
    ("mobilised_on_site", "mobilised members on site at the end", ""),
    ("peak_on_site", "mobilised members on site, peak", ""),
    ("member_hours_on_site", "member-hours on site (the cost in people's time)", ""),
    ("redeployed_peak", "grid workers and community staff on emergency duties, peak", ""),
    ("routine_backlog_hours", "grid workers' routine work waiting (hours)", "less"),
)
#: drill.json keys shown in a report's header.
META_KEYS: tuple[str, ...] = ("scenario", "seed", "script", "team", "live_from_min", "ended_at_min", "gridtwin")


@dataclass(frozen=True, slots=True)
class ModeStep:
    """One change of mode during the drill: simulated minute, from, to, why, and who."""

    at: float
    from_mode: str
    to_mode: str
    cause: str
    by: str


@dataclass(frozen=True, slots=True)
class Marker:
    """A trainer's (or the script's) note pinned to a place and a simulated minute."""

    sim_min: float
    place: str
    note: str
    source: str


@dataclass(frozen=True)
class DrillRecord:
    """What one drill run directory holds, as plain values: what the report renders."""

    dir: Path
    label: str
    team: str
    seed: int
    script: str
    start_date: date  # simulated minute 0 is this day's midnight
    live_from_min: float
    ended_at_min: float
    mode_at_end: str
    mode_history: tuple[ModeStep, ...]
    markers: tuple[Marker, ...]
    actions: tuple[Action, ...]
    series: pd.DataFrame  # the drill's series (one row per sample)
    baseline_series: pd.DataFrame  # the same without the trainee
    outcome: Mapping[str, Any]
    baseline_outcome: Mapping[str, Any]
    meta: Mapping[str, Any]


def baseline_of(s: DrillSession) -> DrillSession:
    """The same scenario, seed and script to the same simulated minute, without the trainee."""
    return replay(s.scenario, s.script, s.seed, [], s.now, label=s.label)


def _write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def write_drill_dir(s: DrillSession, out: Path, live_from_min: float = 0.0, on_record: OnRecord | None = None) -> Path:
    """End the session (if not yet), run the baseline and write the run directory; then call
    ``on_record(out)`` (the CLI's report). Returns the run directory."""
    if not s.ended:
        s.end()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    base = baseline_of(s)
    ctl = s.comp.controller
    meta: dict[str, Any] = {
        "scenario": s.label,
        "seed": s.seed,
        "script": s.script.name,
        "team": s.team or "—",
        "live_from_min": live_from_min,
        "ended_at_min": round(s.now, 3),
        "gridtwin": twin.__version__,
    }
    _write_json(out / "drill.json", {
        **meta,
        "start_date": s.scenario.run.start_date.isoformat(),
        "mode_at_end": ctl.mode,
        "mode_history": [
            {"at": c.at, "from_mode": c.from_mode, "to_mode": c.to_mode, "cause": c.cause, "by": c.actor or c.source}
            for c in ctl.history
        ],
        "markers": list(s.markers),
        "script_table": s.script.model_dump(mode="json"),
        "scenario_resolved": s.scenario.resolved_dict(),
    })
    with (out / "actions.jsonl").open("w", encoding="utf-8") as f:
        for a in s.log:
            f.write(json.dumps(a.to_dict(), ensure_ascii=False) + "\n")
    ser = pd.concat(
        [pd.DataFrame(s.series).assign(run="drill"), pd.DataFrame(base.series).assign(run="baseline")],
        ignore_index=True,
    )
    ser.to_csv(out / "series.csv", index=False)
    _write_json(out / "outcome.json", {"drill": s.outcome(), "baseline": base.outcome()})
    if on_record is not None:
        on_record(out)
    return out


def read_actions(path: Path) -> list[dict[str, Any]]:
    """The log of a run directory (``actions.jsonl``), for a replay or a comparison of teams."""
    return [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]


def read_drill_record(out: Path) -> DrillRecord:
    """The frozen record of a drill run directory written by :func:`write_drill_dir`."""
    out = Path(out)
    d = json.loads((out / "drill.json").read_text(encoding="utf-8"))
    outcome = json.loads((out / "outcome.json").read_text(encoding="utf-8"))
    ser = pd.read_csv(out / "series.csv")

    def run(name: str) -> pd.DataFrame:
        return ser[ser["run"] == name].drop(columns="run").reset_index(drop=True)

    return DrillRecord(
        dir=out,
        label=d["scenario"],
        team="" if d["team"] == "—" else d["team"],
        seed=d["seed"],
        script=d["script"],
        start_date=date.fromisoformat(d["start_date"]),
        live_from_min=float(d["live_from_min"]),
        ended_at_min=float(d["ended_at_min"]),
        mode_at_end=d["mode_at_end"],
        mode_history=tuple(ModeStep(**c) for c in d["mode_history"]),
        markers=tuple(Marker(**m) for m in d["markers"]),
        actions=tuple(Action(**a) for a in read_actions(out / "actions.jsonl")),
        series=run("drill"),
        baseline_series=run("baseline"),
        outcome=outcome["drill"],
        baseline_outcome=outcome["baseline"],
        meta={k: d[k] for k in META_KEYS if k in d},
    )
