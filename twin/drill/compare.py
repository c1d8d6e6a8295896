"""Several teams, one exercise: compare drill run directories side by side.

Each run directory (written by :func:`twin.drill.record.write_drill_dir`) carries its team,
scenario, seed and script; runs of the same exercise share the last three, so their
baselines are the same run and their outcomes can be set side by side. The comparison is a
table (one column per team); :func:`reports.drill_report.drill_compare_report` renders it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from twin.drill.record import OUTCOME_ROWS, read_actions


class DrillCompareError(ValueError):
    """Run directories that cannot be compared (the message names the directory and the file)."""


def read_run(path: Path) -> dict[str, Any]:
    """Team, exercise, decisions and outcome of one drill run directory."""
    p = Path(path)
    try:
        meta = json.loads((p / "drill.json").read_text(encoding="utf-8"))
        outcome = json.loads((p / "outcome.json").read_text(encoding="utf-8"))
        actions = read_actions(p / "actions.jsonl")
    except FileNotFoundError as exc:
        raise DrillCompareError(
            f"{p}: {Path(exc.filename).name}: expected a drill run directory, got no such file"
        ) from None
    except json.JSONDecodeError as exc:
        raise DrillCompareError(f"{p}: expected JSON files written by twin drill, got {exc}") from None
    switches = [a for a in actions if a["kind"] == "mode" and a["ok"] and a["source"] == "trainer"]
    return {
        "dir": str(p),
        "team": meta.get("team", "—"),
        "exercise": (meta.get("scenario"), meta.get("seed"), meta.get("script")),
        "ended_at_min": meta.get("ended_at_min"),
        "first_switch_min": switches[0]["sim_min"] if switches else None,
        "switches": " → ".join(a["params"]["to"] for a in switches) or "none",
        "actions": sum(
            1
            for a in actions
            if a["source"] == "trainer" and a["kind"] in ("mode", "incident", "surge", "team", "marker")
        ),
        "drill": outcome["drill"],
        "baseline": outcome["baseline"],
    }


def compare_runs(paths: list[Path]) -> tuple[list[str], list[list[Any]], list[dict[str, Any]]]:
    """Columns and rows of the comparison (one column per team, then the shared baseline)."""
    if not paths:
        raise DrillCompareError("expected at least one drill run directory")
    runs = [read_run(p) for p in paths]
    first = runs[0]
    for r in runs[1:]:
        if r["exercise"] != first["exercise"]:
            raise DrillCompareError(
                f"{r['dir']}: drill.json: expected the same scenario, seed and script as {first['dir']} "
                f"{first['exercise']}, got {r['exercise']}"
            )
    cols = ["", *[f"team {r['team']}" for r in runs], "baseline (no actions)"]
    rows: list[list[Any]] = [
        ["ended at simulated minute", *[r["ended_at_min"] for r in runs], None],
        ["first switch (simulated minute)", *[r["first_switch_min"] for r in runs], None],
        ["mode steps", *[r["switches"] for r in runs], "none"],
        ["actions at the console", *[r["actions"] for r in runs], 0],
    ]
    for key, label, _ in OUTCOME_ROWS:
        rows.append([label, *[r["drill"].get(key) for r in runs], first["baseline"].get(key)])
    return cols, rows, runs

