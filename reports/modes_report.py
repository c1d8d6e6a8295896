"""The report section of the emergency switchover (常急转换): the timeline figure — mode bands,
mobilised head count, emergency and normal backlog, vulnerable residents checked — and the
tables of the ``modes`` block (timeline, what the switch bought and what it cost)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.patches import Rectangle

from reports.html import Figure, Section, Table, figure, zh
from twin.modes import MODE_NAMES_ZH

if TYPE_CHECKING:  # pragma: no cover
    from twin.run import RunResult

#: The colours of the emergency modes' bands (normal mode has none), here and in the drill's report.
MODE_COLOURS = {"emergency": "#f2b134", "extreme": "#d1495b"}


def mode_legend(fig: Any) -> None:
    """The key of the mode bands, across the top of ``fig``."""
    handles = [Rectangle((0, 0), 1, 1, color=c, alpha=0.3) for c in MODE_COLOURS.values()]
    fig.legend(handles, [zh(MODE_NAMES_ZH[m], m) for m in MODE_COLOURS], loc="upper center", ncol=2, fontsize=8, frameon=False)


def _bands(ax: Any, timeline: list[dict[str, Any]]) -> None:
    for seg in timeline:
        colour = MODE_COLOURS.get(seg["mode"])
        if colour is not None:
            ax.axvspan(seg["start_min"] / 1440.0, seg["end_min"] / 1440.0, color=colour, alpha=0.18, lw=0)


def timeline_figure(series: pd.DataFrame, modes: dict[str, Any]) -> Figure:
    """Mode bands behind three panels: mobilised head count; emergency, normal and home-unit
    backlog; vulnerable residents checked against the deadline."""
    tl = modes["timeline"]
    d = series["t_min"].to_numpy() / 1440.0
    fig, axes = plt.subplots(3, 1, figsize=(8, 7.2), sharex=True)
    ax = axes[0]
    _bands(ax, tl)
    ax.plot(d, series["on_site"], color="#2e4057", label=zh("到岗", "on site"))
    ax.plot(d, series["en_route"], color="#66a182", ls="--", label="notified, en route")
    ax.plot(d, series["returning"], color="#8d96a3", ls=":", label="returning")
    for m in ("emergency", "extreme"):
        n = modes["roster"]["mobilisable"][m]
        if any(seg["mode"] == m for seg in tl):
            ax.axhline(n, color=MODE_COLOURS[m], lw=0.8, ls="-.", label=f"mobilisable in {m}: {n}")
    ax.set_ylabel(zh("下沉人员", "mobilised members"))
    ax.legend(fontsize=7, frameon=False, ncol=2, loc="center left")
    ax = axes[1]
    _bands(ax, tl)
    ax.plot(d, series["emergency_backlog"], color="#d1495b", label=zh("应急在办", "emergency cases open (tier E)"))
    ax.plot(d, series["normal_backlog"], color="#00798c", label=zh("常态在办", "normal cases open"))
    ax.plot(d, series["home_unit_backlog"], color="#edae49", ls="--", label="at the mobilising units' stations")
    ax.set_ylabel("cases")
    ax.legend(fontsize=7, frameon=False, loc="upper left")
    ax = axes[2]
    _bands(ax, tl)
    vc = modes["vulnerable_checks"]
    ax.plot(d, series["checks_done"], color="#30638e", label=zh("已走访", "checked"))
    if vc["duty_start_min"] is not None:
        ax.axhline(vc["to_check"], color="grey", lw=0.8, ls=":", label=f"to check: {vc['to_check']}")
        ax.axvline(
            (vc["duty_start_min"] + 60.0 * vc["deadline_hours"]) / 1440.0,
            color="#d1495b",
            lw=0.8,
            ls="--",
            label="deadline",
        )
    ax.set_ylabel(zh("重点人群", "vulnerable residents"))
    ax.set_xlabel("day")
    ax.legend(fontsize=7, frameon=False, loc="lower right")
    mode_legend(fig)
    fig.tight_layout(rect=(0, 0, 1, 0.96))
    return figure(
        fig,
        "modes_timeline",
        "Emergency switchover timeline",
        "Shaded: the mode in force (应下尽下 orange, 全员下沉 red). Top: mobilised members by state. "
        "Middle: open emergency cases, open normal cases, and the normal cases waiting at or being worked by "
        "the units whose staff went down (the cost of mobilisation). Bottom: vulnerable residents checked.",
    )


def _fmt_min(x: float | None) -> str:
    return "—" if x is None else f"{x:.0f} min"


def modes_section(result: RunResult) -> Section:
    """The section ``build_run_report`` adds when the run had an ``[emergency]`` section."""
    mb = result.summary["modes"]
    ec = mb["emergency_cases"]
    vc = mb["vulnerable_checks"]
    paras = [
        f"Switching {'on' if mb['switching'] else 'OFF (counterfactual: the same emergency without a switch)'}; "
        f"hours in each mode: " + ", ".join(f"{k} {v:g}" for k, v in mb["hours_in_mode"].items()) + ".",
        f"Roster: {mb['roster']['staff']} staff in {mb['roster']['units']} units; mobilisable {mb['roster']['mobilisable']['emergency']} "
        f"in 应下尽下 and {mb['roster']['mobilisable']['extreme']} in 全员下沉; peak on site {mb['mobilised_peak']}; "
        f"50 % on site after {_fmt_min(mb['minutes_to_50pct'])}, 90 % after {_fmt_min(mb['minutes_to_90pct'])}.",
    ]
    if mb["suppressed"]:
        paras.append(
            "Suppressed switches (would have happened): "
            + "; ".join(
                f"{c['from_mode']} → {c['to_mode']} at day {c['at'] / 1440.0:.2f} ({c['cause']})"
                for c in mb["suppressed"]
            )
        )
    if mb["refused"]:
        paras.append(
            "Refused requests: " + "; ".join(f"{r['from_mode']} → {r['to_mode']}: {r['reason']}" for r in mb["refused"])
        )
    timeline = Table(
        ["mode", "from day", "to day", "source", "cause"],
        [
            (s["mode"], round(s["start_min"] / 1440.0, 3), round(s["end_min"] / 1440.0, 3), s["source"], s["cause"])
            for s in mb["timeline"]
        ],
        title="Mode timeline",
    )
    bought = Table(
        ["what", "value"],
        [
            ("emergency cases", ec["n"]),
            ("response (report → on site) p50 / p90, min", f"{ec['response_min_p50']} / {ec['response_min_p90']}"),
            ("resolution p50 / p90, min", f"{ec['resolve_min_p50']} / {ec['resolve_min_p90']}"),
            ("emergency cases resolved within tier E", ec["on_time_rate"]),
            ("handled by the duty desks (share)", ec["handled_by_desk_share"]),
            ("vulnerable residents to check", vc["to_check"]),
            (f"checked within {vc['deadline_hours']:g} h of the switch", vc["share_within_deadline"]),
        ],
        title="What the switch bought",
    )
    nb, hb = mb["normal_backlog"], mb["home_unit_backlog"]
    br = mb["sla_breaches_by_mode"]
    cost = Table(
        ["what", "value"],
        [
            ("normal cases open: before the switch (mean) → peak", f"{nb['baseline_mean']} → {nb['peak']}"),
            ("at the mobilising units' stations: before (mean) → peak", f"{hb['baseline_mean']} → {hb['peak']}"),
            *[
                (f"SLA breaches while {m} (normal work / emergency)", f"{v['normal_work']} / {v['emergency']}")
                for m, v in br.items()
            ],
        ],
        title="What it cost",
    )
    mob = Table(
        ["step to", "at day", "mobilisable", "to 50 %", "to 90 %"],
        [
            (e["to"], round(e["at_min"] / 1440.0, 3), e["mobilisable"], e["minutes_to_50pct"], e["minutes_to_90pct"])
            for e in mb["mobilisation"]
        ],
        title="Mobilisation",
    )
    tables = [timeline, *declared_tables(mb), bought, cost, mob, *redeploy_tables(mb)]
    figs = [timeline_figure(result.modes, mb)] if result.modes is not None and len(result.modes) else []
    return Section("Emergency switchover (常急转换)", paragraphs=paras, tables=tables, figures=figs)


def declared_tables(mb: dict[str, Any]) -> list[Table]:
    """The declared timeline (warnings issued/lifted, response levels), the advisories put to the
    commander, and the specialist responders' work — each only when there is something to show."""
    out: list[Table] = []
    what = {
        "warning_issued": "warning issued",
        "warning_lifted": "warning lifted",
        "level_declared": "response level declared",
        "level_lifted": "response level lifted",
    }
    if mb.get("declarations"):
        rm = mb.get("response_mapping", {})
        out.append(
            Table(
                ["at day", "event", "id", "colour / level", "area"],
                [
                    (
                        round(e["at"] / 1440.0, 3),
                        what.get(e["event"], e["event"]),
                        e["id"],
                        e.get("colour") or e.get("level", ""),
                        e.get("area", ""),
                    )
                    for e in mb["declarations"]
                ],
                title=f"Warnings and response levels (trigger: {mb.get('trigger')}; mapping source: {rm.get('source', '')})",
            )
        )
    if mb.get("advisories"):
        out.append(
            Table(
                ["at day", "recommended", "cause"],
                [
                    (round(a["at"] / 1440.0, 3), f"{a['from_mode']} → {a['to_mode']}", a["cause"])
                    for a in mb["advisories"]
                ],
                title="Advisories to the commander (not switched automatically)",
            )
        )
    if mb.get("specialist_responses"):
        out.append(
            Table(
                ["responder", "crews", "handles", "cases", "minutes to scene, median", "guided in by grid staff"],
                [
                    (name, r["crews"], ", ".join(r["handles"]), r["count"], r["minutes_to_scene_p50"], r.get("guided_by_grid_staff", "—"))
                    for name, r in mb["specialist_responses"].items()
                ],
                title="Specialist responders (not 下沉 members)",
            )
        )
    return out


def redeploy_tables(mb: dict[str, Any]) -> list[Table]:
    """Grid workers and community staff on emergency duties, and the routine work waiting for them."""
    rd, rb = mb.get("redeployed"), mb.get("routine_backlog")
    if not rd or not rd.get("changes") or not rb:
        return []

    def hours(x: float | None) -> str:
        return "—" if x is None else f"{x:,.1f} h"

    rows: list[tuple[str, Any]] = [
        ("people on emergency duties at the peak", f"{rd['peak']:,.0f}"),
        (
            "… grid workers / community staff / property staff",
            f"{rd['by_role']['grid_worker']:,.0f} / {rd['by_role']['community_staff']:,} / {rd['by_role'].get('property_staff', 0):,}",
        ),
        *[(f"… on {d.replace('_', '-')} (person-equivalents)", f"{v:,.1f}") for d, v in rd["by_duty"].items()],
        ("grid workers' routine waiting: peak", hours(rb["peak_hours"])),
        ("… what they came back to (booked by the return)", hours(rb.get("at_return_hours"))),
        ("… at the end of the run", hours(rb["at_end_hours"])),
        ("… cleared after the return to routine in", hours(rb["hours_to_clear_after_return"]) if rb["back_to_routine_min"] is not None else "no return"),
    ]
    changes = Table(
        ["at day", "mode", "grid workers on duties", "community staff on duties", "property staff on duties"],
        [
            (round(c["t_min"] / 1440.0, 3), c["mode"], round(c["grid_worker"], 1), c["community_staff"], c.get("property_staff", 0))
            for c in rd["changes"]
        ],
        title="Redeployment by rule: who changed jobs when",
    )
    out = [Table(["what", "value"], rows, title=f"Redeployed grid staff and the routine they left (source: {rd['source']})"), changes]
    oc = mb.get("on_call")
    if oc and oc["calls"]:
        out.append(
            Table(
                ["calls", "answered", "in vain (taken up meanwhile)", "nobody at home", "people sent", "minutes call → scene, median"],
                [(oc["calls"], oc["answered"], oc["in_vain"], oc["unanswered"], oc["people_sent"], oc["minutes_call_to_scene_p50"])],
                title="Normal mode: calls for help answered by the units (有呼必应、因事派人)",
            )
        )
    return out


def comparison_rows(with_switch: dict[str, Any], without: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    """Side-by-side figures of two ``modes`` blocks (same seed, switch on / off)."""

    def get(mb: dict[str, Any], *path: str) -> Any:
        for p in path:
            mb = mb.get(p) if isinstance(mb, dict) else None  # type: ignore[assignment]
        return mb

    keys = [
        ("emergency response p50 (min)", ("emergency_response_min_p50",)),
        ("emergency response p90 (min)", ("emergency_response_min_p90",)),
        ("emergency on time (tier E)", ("emergency_cases", "on_time_rate")),
        ("vulnerable checked in time", ("vulnerable_checked_share_within_deadline",)),
        ("normal backlog peak", ("normal_backlog", "peak")),
        ("normal backlog mean", ("normal_backlog", "mean")),
        ("home-unit backlog peak", ("home_unit_backlog", "peak")),
        ("people on emergency duties, peak", ("redeployed", "peak")),
        ("grid workers' routine waiting, peak (h)", ("routine_backlog", "peak_hours")),
    ]
    rows = [(label, get(with_switch, *p), get(without, *p)) for label, p in keys]
    for m in ("normal", "emergency", "extreme"):
        a = with_switch["sla_breaches_by_mode"][m]
        b = without["sla_breaches_by_mode"][m]
        rows.append(
            (
                f"SLA breaches while {m} (normal / E)",
                f"{a['normal_work']} / {a['emergency']}",
                f"{b['normal_work']} / {b['emergency']}",
            )
        )
    return rows


__all__ = ["comparison_rows", "modes_section", "redeploy_tables", "timeline_figure"]
