"""The after-action report of a drill: the actions on the timeline beside their effects, and
the outcome compared with the same scenario, seed and script run without the trainee.

Rendered from a plain :class:`twin.drill.record.DrillRecord` read from the drill's run directory
(the drill and its baseline — the same scenario, seed and script without the trainee — to the
same simulated minute); ``twin drill`` calls :func:`write_drill_report` when the drill ends, and
:func:`drill_compare_report` renders ``twin drill-compare``. Figure labels are Chinese with English beside them when a CJK font is installed; the tables may
use Chinese.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from reports.html import Figure, Report, Section, Table, figure
from reports.modes_report import MODE_COLOURS, mode_legend
from twin.drill.record import OUTCOME_ROWS, DrillRecord, read_drill_record
from twin.modes import MODE_LABELS
from twin.simtime import clock_text

if TYPE_CHECKING:  # pragma: no cover
    from twin.drill.session import Action

EFFECT_WINDOW_MIN = 120.0
#: Action kinds drawn on the timeline figure.
LABELLED = frozenset({"mode", "incident", "surge", "team", "marker", "warning", "lift_warning"})

def human(value: Any, key: str = "", signed: bool = False) -> str:
    """A figure as people read it: thousands separators, shares as per cent, at most one
    decimal, never scientific notation; None as a dash."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "—"
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        return str(value)
    sign = "+" if signed and value > 0 else ""
    if key.endswith("_share"):
        return f"{sign}{value * 100:,.1f} %"
    v = float(value)
    if v.is_integer() or abs(v) >= 100:
        return f"{sign}{v:,.0f}"
    return f"{sign}{v:,.1f}"


def injected_by_trainee(drill: DrillRecord) -> int:
    """Emergency cases the trainee added (incident injects made, surge arrivals planned)."""
    n = 0
    for a in drill.actions:
        if a.source == "trainer" and a.ok and a.kind == "incident":
            n += len(a.result.get("cases", []))
        elif a.source == "trainer" and a.ok and a.kind == "surge":
            n += int(a.result.get("planned", 0))
    return n


def _bands(ax: Any, s: DrillRecord) -> None:
    hist = s.mode_history
    for i, ch in enumerate(hist):
        end = hist[i + 1].at if i + 1 < len(hist) else s.ended_at_min
        colour = MODE_COLOURS.get(ch.to_mode)
        if colour is not None:
            ax.axvspan(ch.at / 60.0, end / 60.0, color=colour, alpha=0.2, lw=0)


def timeline_figure(drill: DrillRecord, t0: float) -> Figure:
    """Four panels over simulated hours from the live start: people, emergency backlog,
    overdue cases, vulnerable checks — drill solid, baseline dashed; actions as numbered lines."""
    d, b = drill.series, drill.baseline_series
    d, b = d[d["t_min"] >= t0 - 60.0], b[b["t_min"] >= t0 - 60.0]
    fig, axes = plt.subplots(4, 1, figsize=(9, 9), sharex=True)
    h_d, h_b = d["t_min"] / 60.0, b["t_min"] / 60.0
    ax = axes[0]
    ax.plot(h_d, d["on_site"], color="#2e4057", label="on site")
    ax.plot(h_d, d["en_route"], color="#66a182", ls="--", label="on the way")
    ax.set_ylabel("mobilised")
    ax = axes[1]
    ax.plot(h_d, d["emergency_backlog"], color="#d1495b", label="with the trainee")
    ax.plot(h_b, b["emergency_backlog"], color="#8d96a3", ls="--", label="without (baseline)")
    ax.set_ylabel("emergency open")
    ax = axes[2]
    ax.plot(h_d, d["emergency_overdue"] + d["normal_overdue"], color="#d1495b", label="with the trainee")
    ax.plot(h_b, b["emergency_overdue"] + b["normal_overdue"], color="#8d96a3", ls="--", label="without (baseline)")
    ax.set_ylabel("overdue cases")
    ax = axes[3]
    ax.plot(h_d, d["checks_done"], color="#30638e", label="with the trainee")
    ax.plot(h_b, b["checks_done"], color="#8d96a3", ls="--", label="without (baseline)")
    ax.set_ylabel("vulnerable checked")
    ax.set_xlabel("simulated hour from the run's start")
    for ax in axes:
        _bands(ax, drill)
        ax.legend(fontsize=7, frameon=False, loc="upper left")
    lo, hi = axes[0].get_xlim()
    groups: list[list[Action]] = []  # actions closer than 4 % of the axis share one label (no overlap)
    for a in drill.actions:
        if a.kind not in LABELLED or a.sim_min < t0 - 60.0:
            continue
        x = a.sim_min / 60.0
        colour = "#333333" if a.source == "trainer" else "#7a5195"
        for ax in axes:
            ax.axvline(x, color=colour, lw=0.6, ls=":")
        if groups and x - groups[-1][0].sim_min / 60.0 < 0.04 * (hi - lo):
            groups[-1].append(a)
        else:
            groups.append([a])
    for g in groups:
        seqs = [a.seq for a in g]
        text = f"#{seqs[0]}" if len(seqs) == 1 else f"#{seqs[0]}–{seqs[-1]}"
        trainer = any(a.source == "trainer" for a in g)
        axes[0].annotate(
            text,
            (g[0].sim_min / 60.0, 1.01),
            xycoords=("data", "axes fraction"),
            fontsize=7,
            color="#333333" if trainer else "#7a5195",
            ha="left",
            va="bottom",
        )
    mode_legend(fig)
    fig.tight_layout(rect=(0, 0, 1, 0.95))
    return figure(
        fig,
        "drill_timeline",
        "The drill on the timeline",
        "Shaded: the mode in force. Dotted lines: actions by number (black: the trainee, purple: the script). "
        "Dashed grey: the same scenario, seed and script without the trainee's actions.",
    )


def _value_at(rows: pd.DataFrame, t: float, key: str) -> Any:
    k = int(np.searchsorted(rows["t_min"].to_numpy(), t, side="right")) - 1
    return None if k < 0 else rows[key].iloc[k].item()


def describe(a: Action) -> str:
    p = a.params
    if a.kind == "mode":
        return f"switch mode to {p.get('to')}" + (f" ({p['cause']})" if p.get("cause") else "")
    if a.kind == "incident":
        return f"inject {p.get('count', 1)} × {p.get('category')} at {p.get('place')}"
    if a.kind == "surge":
        return f"surge of {p.get('category')} at {p.get('place')}: {p.get('per_hour')}/h for {p.get('hours')} h"
    if a.kind == "team":
        return f"send {p.get('size')} people to {p.get('community')}"
    if a.kind == "marker":
        return f"marker at {p.get('place') or '—'}: {p.get('note')}"
    if a.kind == "warning":
        return f"{p.get('colour')} {p.get('type') or 'rainstorm'} warning {p.get('id')} issued at {p.get('place')}"
    if a.kind == "lift_warning":
        return f"warning {p.get('id')} lifted"
    if a.kind == "speed":
        return f"speed {p.get('from')} → {p.get('to')} sim-min/s"
    if a.kind == "skip":
        return f"skipped ahead to {p.get('to')}"
    return a.kind


def _result_text(a: Action) -> str:
    if not a.ok:
        return f"refused: {a.error}"
    r = a.result
    if a.kind == "mode":
        return f"{r.get('from')} → {r.get('to')}; {r.get('mobilisable')} to mobilise"
    if a.kind == "incident":
        return f"{len(r.get('cases', []))} case(s): {', '.join(r.get('cases', [])[:3])}"
    if a.kind == "surge":
        return f"{r.get('planned')} arrivals planned"
    if a.kind == "team":
        src = ", ".join(f"{k} ×{v}" for k, v in (r.get("from") or {}).items())
        return f"{r.get('moved')} of {r.get('asked')} moving from {src}"
    return ""


def actions_table(drill: DrillRecord, clock: Any) -> Table:
    rows = []
    now = drill.ended_at_min
    for a in drill.actions:
        t, t2 = a.sim_min, a.sim_min + EFFECT_WINDOW_MIN
        eff = "—" if a.ok else "none (refused)"
        if a.ok and a.kind in ("mode", "incident", "surge", "team"):
            on0, on1 = _value_at(drill.series, t, "on_site"), _value_at(drill.series, t2, "on_site")
            e0, e1 = _value_at(drill.series, t, "emergency_backlog"), _value_at(drill.series, t2, "emergency_backlog")
            eb = _value_at(drill.baseline_series, t2, "emergency_backlog")
            if t2 <= now:
                eff = f"on site {on0} → {on1}; emergency open {e0} → {e1} (baseline {eb})"
            else:
                eff = f"on site {on0} → {_value_at(drill.series, now, 'on_site')} by the end"
        rows.append([a.seq, clock(a.sim_min), a.wall, a.source, describe(a), _result_text(a), eff])
    return Table(
        [
            "#",
            "simulated time",
            "wall time (UTC)",
            "by",
            "action",
            "result",
            f"effect within {EFFECT_WINDOW_MIN / 60:g} h",
        ],
        rows,
    )


def outcome_table(o_drill: dict[str, Any], o_base: dict[str, Any], injected: int = 0) -> Table:
    """Both runs side by side. Rows whose difference the trainee's injects confound (cases
    open) get no verdict when the trainee injected incidents; injected load has a row of its own."""
    rows = [["emergency cases injected by the trainee (load added, not a result)", human(injected), "0", "", ""]]
    for key, label, better in OUTCOME_ROWS:
        a, b = o_drill.get(key), o_base.get(key)
        diff = None if a is None or b is None else round(a - b, 4)
        verdict = ""
        confounded = injected > 0 and key == "emergency_open"
        if diff is not None and diff != 0 and better and not confounded:
            verdict = "better" if (diff > 0) == (better == "more") else "worse"
        rows.append([label, human(a, key), human(b, key), human(diff, key, signed=True), verdict])
    return Table(["outcome", "with the trainee's actions", "without (baseline)", "difference", ""], rows)


def build_drill_report(drill: DrillRecord) -> Report:
    """The report: summary, outcome comparison, timeline figure, actions with effects, modes, markers."""

    def clock(m: float) -> str:
        return clock_text(drill.start_date, m)

    t0 = drill.live_from_min
    rep = Report(f"After-action report — {drill.label}" + (f" — team {drill.team}" if drill.team else ""),
                 meta=dict(drill.meta))
    n_tr = sum(
        1 for a in drill.actions if a.source == "trainer" and a.kind in ("mode", "incident", "surge", "team", "marker")
    )
    n_sc = sum(1 for a in drill.actions if a.source == "script")
    rep.add(
        Section(
            "Summary",
            [
                f"Scenario {drill.label}, seed {drill.seed}, script “{drill.script}”. Live from {clock(t0)} "
                f"to {clock(drill.ended_at_min)}; {n_tr} trainee action(s) and {n_sc} scripted inject(s).",
                "The baseline is the same scenario, seed and script run to the same simulated minute without the "
                "trainee's actions; both runs draw the same random numbers, so the differences are the actions' effects. "
                "Incidents injected from the console count in the drill only; put the exercise's own injects in the "
                "script so that every team and the baseline face them alike.",
                f"Mode at the end: {MODE_LABELS[drill.mode_at_end]}.",
            ],
        )
    )
    o_d, o_b = dict(drill.outcome), dict(drill.baseline_outcome)
    rep.add(
        Section(
            "Outcome: with and without the trainee's actions",
            tables=[outcome_table(o_d, o_b, injected_by_trainee(drill))],
        )
    )
    rep.add(Section("Timeline", figures=[timeline_figure(drill, t0)]))
    rep.add(
        Section(
            "Actions and their effects",
            [
                "Every action with its simulated and wall time. Effects compare the drill with itself two simulated "
                "hours later and with the baseline at the same moment."
            ],
            tables=[actions_table(drill, clock)],
        )
    )
    hist = drill.mode_history
    rep.add(
        Section(
            "Mode history",
            tables=[
                Table(
                    ["simulated time", "from", "to", "cause", "by"],
                    [
                        [clock(c.at), MODE_LABELS[c.from_mode], MODE_LABELS[c.to_mode], c.cause, c.by]
                        for c in hist
                    ],
                )
            ]
            if hist
            else [],
            paragraphs=[] if hist else ["The mode stayed normal throughout."],
        )
    )
    if drill.markers:
        rep.add(
            Section(
                "Markers and notes",
                tables=[
                    Table(
                        ["simulated time", "place", "note", "by"],
                        [[clock(m.sim_min), m.place or "—", m.note, m.source] for m in drill.markers],
                    )
                ],
            )
        )
    return rep


def write_drill_report(out: Path) -> Path:
    """Render ``report.html`` (figures beside it) into a drill run directory: the ``on_record``
    hook ``twin drill`` hands to the drill console."""
    out = Path(out)
    return build_drill_report(read_drill_record(out)).write(out / "report.html", out / "figures")


def drill_compare_report(cols: list[str], rows: list[list[Any]], runs: list[dict[str, Any]]) -> Report:
    """The page of ``twin drill-compare``: the teams' table (:func:`twin.drill.compare.compare_runs`)."""
    scenario, seed, script = runs[0]["exercise"]
    rep = Report(
        f"Drill comparison — {script}", meta={"scenario": scenario, "seed": seed, "script": script, "teams": len(runs)}
    )
    ends = {r["ended_at_min"] for r in runs}
    note = (
        "All teams ended at the same simulated minute."
        if len(ends) == 1
        else "Teams ended at different simulated minutes; counts up to the end are not directly comparable, shares and times are."
    )
    rep.add(
        Section(
            "Teams side by side",
            [note, "The baseline is the first run's: the same scenario, seed and script without console actions."],
            tables=[Table(cols, rows)],
        )
    )
    return rep
