"""Ending a drill: the baseline run and the run directory.

The run directory holds ``drill.json`` (scenario, seed, script, team, times),
``actions.jsonl`` (the log, one action a line), ``series.csv`` (the drill's and the
baseline's series), ``outcome.json`` (both outcomes) and ``report.html`` (the after-action
report). The log is enough to replay the drill: ``replay(scenario, script, seed, actions,
until)`` gives the same run.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

import twin
from twin.drill.session import DrillSession, replay


def baseline_of(s: DrillSession) -> DrillSession:
    """The same scenario, seed and script to the same simulated minute, without the trainee."""
    return replay(s.scenario, s.script, s.seed, [], s.now, label=s.label)


def write_drill_dir(s: DrillSession, out: Path, live_from_min: float = 0.0) -> Path:
    """End the session (if not yet), run the baseline and write the run directory; returns report.html."""
    from reports.drill_report import build_drill_report

    if not s.ended:
        s.end()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    base = baseline_of(s)
    meta: dict[str, Any] = {
        "scenario": s.label,
        "seed": s.seed,
        "script": s.script.name,
        "team": s.team or "—",
        "live_from_min": live_from_min,
        "ended_at_min": round(s.now, 3),
        "gridtwin": twin.__version__,
    }
    (out / "drill.json").write_text(
        json.dumps(
            {**meta, "script_table": s.script.model_dump(mode="json"), "scenario_resolved": s.scenario.resolved_dict()},
            indent=2,
            ensure_ascii=False,
        )
        + "\n",
        encoding="utf-8",
    )
    with (out / "actions.jsonl").open("w", encoding="utf-8") as f:
        for a in s.log:
            f.write(json.dumps(a.to_dict(), ensure_ascii=False) + "\n")
    ser = pd.concat(
        [pd.DataFrame(s.series).assign(run="drill"), pd.DataFrame(base.series).assign(run="baseline")],
        ignore_index=True,
    )
    ser.to_csv(out / "series.csv", index=False)
    (out / "outcome.json").write_text(
        json.dumps({"drill": s.outcome(), "baseline": base.outcome()}, indent=2, ensure_ascii=False) + "\n",
        encoding="utf-8",
    )
    path = out / "report.html"
    build_drill_report(s, base, meta).write(path, out / "figures")
    return path


def read_actions(path: Path) -> list[dict[str, Any]]:
    """The log of a run directory (``actions.jsonl``), for a replay or a comparison of teams."""
    return [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]
