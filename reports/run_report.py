"""The report of one run: KPI tables and the figures the issue asks for — arrivals by hour of
day, backlog over time, on-time rate by tier, share closed at each level, utilisation of
workers and departments, and the channel mix."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from reports.html import Figure, Report, Section, Table, figure, zh

if TYPE_CHECKING:
    from twin.run import RunResult
    from twin.summary_types import RunSummary

LEVEL_NAMES = {0: "grid", 1: "community", 2: "street", 3: "district", -1: "replied, not yet resolved"}
CHANNEL_COLOURS = {"app": "#4c72b0", "hotline": "#dd8452", "patrol": "#55a868", "device": "#c44e52", "rider": "#8172b3"}


def _arrivals_by_hour(inc: Any) -> Figure:
    fig, ax = plt.subplots(figsize=(7, 3.2))
    hours = (inc["raised_min"].to_numpy() % 1440.0) // 60.0
    bottom = np.zeros(24)
    for ch, colour in CHANNEL_COLOURS.items():
        sel = inc["channel"].to_numpy() == ch
        counts = np.bincount(hours[sel].astype(int), minlength=24)[:24]
        ax.bar(np.arange(24), counts, bottom=bottom, color=colour, label=ch, width=0.85)
        bottom += counts
    ax.set_xlabel(zh("时段", "hour of day (China time)"))
    ax.set_ylabel(zh("上报案件", "cases reported"))
    ax.set_xticks(range(0, 24, 2))
    ax.legend(ncol=5, fontsize=8, frameon=False)
    return figure(fig, "arrivals_by_hour", "Arrivals by hour of day",
                  "When each case was raised (resident report, patrol find, rider snapshot, device alert), by channel; non-emergency reports are taken in by the platform in its intake windows.")


def _backlog(kpi: Any) -> Figure:
    fig, ax = plt.subplots(figsize=(7, 3.2))
    d = kpi["t_min"].to_numpy() / 1440.0
    ax.plot(d, kpi["backlog"], label=zh("在办案件", "open cases"), color="#4c72b0")
    if "overdue" in kpi:
        ax.plot(d, kpi["overdue"], label=zh("超期", "overdue"), color="#c44e52")
    ax.set_xlabel("day")
    ax.set_ylabel("cases")
    ax.legend(frameon=False)
    return figure(fig, "backlog", "Backlog over time", "Open (unresolved) cases, sampled at the KPI interval.")


def _on_time_by_tier(summary: RunSummary) -> Figure:
    fig, ax = plt.subplots(figsize=(5, 3))
    by = summary.get("on_time_by_tier", {})
    tiers = list(by)
    rates = [by[t] for t in tiers]
    ax.bar(tiers, rates, color="#55a868")
    for i, r in enumerate(rates):
        ax.text(i, r + 0.01, f"{100 * r:.1f}%", ha="center", fontsize=8)
    ax.set_ylim(0, 1.08)
    ax.set_ylabel(zh("按期办结率", "on time (every unit in its limit)"))
    return figure(fig, "on_time_by_tier", "On-time rate by tier (the platform rule)",
                  "A registered case is on time when every unit that held it kept its own limit, in working time, approved extensions and suspensions excluded. "
                  "T0 30 min on site (natural time); T1 2 working hours; T2 2 working days per unit; T3 a reply within 5 working days.")


def _lateness_by(cases: Any, column: str, title: str, name: str) -> Figure | None:
    """Late registered cases (a unit over its limit) per value of ``column``."""
    if "late_stints" not in cases or cases.empty:
        return None
    done = cases["done_at"].notna() & ~cases["state"].isin(["rejected", "merged"])
    d = cases[done]
    if d.empty:
        return None
    g = d.groupby(column, observed=True)["late_stints"].agg(lambda x: float((x > 0).mean()))
    n = d.groupby(column, observed=True).size()
    fig, ax = plt.subplots(figsize=(6, 3))
    labels = [str(k) for k in g.index]
    ax.barh(labels, [100.0 * v for v in g.to_numpy()], color="#c44e52")
    for i, (v, k) in enumerate(zip(g.to_numpy(), n.to_numpy(), strict=True)):
        ax.text(100.0 * v, i, f" {100 * v:.1f}% of {k:,}", va="center", fontsize=7)
    ax.set_xlabel(zh("超期案件占比 (%)", "late cases (%)"))
    return figure(fig, name, title, "Share of done cases in which at least one handling unit went past its own limit.")


def _worker_day(summary: RunSummary) -> Figure | None:
    day = summary.get("grid_worker_day") or {}
    if not day:
        return None
    labels = {
        "case_handling": zh("办案", "cases"), "meetings": zh("会议台账", "meetings"), "tasks": zh("上级交办", "tasks from above"),
        "data": zh("信息采集", "data collection"), "patrol": zh("巡查", "patrol"), "visits": zh("入户走访", "visits"), "idle": zh("空闲", "free"),
    }
    colours = ["#c44e52", "#8172b3", "#937860", "#da8bc3", "#55a868", "#4c72b0", "#cccccc"]
    fig, ax = plt.subplots(figsize=(7, 1.8))
    left = 0.0
    for (k, v), col in zip(day.items(), colours, strict=False):
        v = v or 0.0
        ax.barh([0], [v], left=left, color=col, label=labels.get(k, k))
        if v >= 0.06:
            ax.text(left + v / 2, 0, f"{100 * v:.0f}%", ha="center", va="center", fontsize=8, color="white")
        left += v
    ax.set_xlim(0, 1)
    ax.set_yticks([])
    ax.legend(ncol=4, fontsize=7, frameon=False, loc="upper center", bbox_to_anchor=(0.5, -0.25))
    return figure(fig, "grid_worker_day", "What a grid worker's working time goes to",
                  "Share of grid workers' working time: cases, then routine (meetings and ledgers, tasks from above, information collection, patrols, household visits — visits give way first when the day is full).")


def _levels(summary: RunSummary) -> Figure:
    fig, ax = plt.subplots(figsize=(5, 3))
    lv = summary["closed_at_level"]
    names = list(lv)
    ax.bar(names, [lv[k] for k in names], color="#8172b3")
    ax.axhline(0.45, color="grey", ls="--", lw=0.8, label="calibration: grid 0.45")
    ax.set_ylabel(zh("办结层级占比", "share of resolved cases"))
    ax.legend(frameon=False, fontsize=8)
    return figure(fig, "closed_at_level", "Share closed at each level", "小事不出网、大事不出村、难事不出街: where cases were finally resolved.")


def _utilisation(summary: RunSummary) -> Figure:
    fig, ax = plt.subplots(figsize=(6, 3))
    u = {k: v for k, v in summary["utilisation"].items() if v is not None}
    ax.barh(list(u), list(u.values()), color="#dd8452")
    ax.set_xlim(0, 1)
    ax.set_xlabel(zh("工作时间占用率", "busy share of working time"))
    return figure(fig, "utilisation", "Utilisation of workers and departments",
                  "Working time in use divided by head-minutes on duty; for grid workers it counts routine work (patrols, visits, data collection, tasks, meetings) as well as cases.")


def _channels(summary: RunSummary) -> Figure:
    fig, ax = plt.subplots(figsize=(5, 3))
    mix = summary["channel_mix"]
    ax.bar(list(mix), list(mix.values()), color=[CHANNEL_COLOURS[k] for k in mix])
    ax.set_ylabel(zh("案件占比", "share of cases"))
    return figure(fig, "channel_mix", "Channel mix", "How cases reached the platform.")


def _bottom_up_and_orders(s: dict[str, Any]) -> Section | None:
    """Bottom-up cases beside 12345 work orders sent down by the centre."""
    b, o = s.get("bottom_up"), s.get("work_orders_12345")
    if b is None or o is None:
        return None
    def pct(x: float | None) -> str:
        return "–" if x is None else f"{x:.1%}"

    rows = [
        ("registered cases / orders", b["cases"], o["orders"]),
        ("per 1,000 residents per day", f"{b['per_1000_per_day']:.3f}", f"{o['per_1000_per_day']:.3f}"),
        ("on time", pct(b["on_time_rate"]), pct(o["on_time_rate"])),
        ("caller contacted within the limit (联系诉求人)", "–", pct(o["contacted_in_time_rate"])),
        ("re-opened after the call-back", b["reopened"], o["reopened"]),
        ("repeat calls on an open order (重复件)", "–", o["repeat_calls"]),
    ]
    rows += [(f"orders: {k}", "–", f"{v['orders']} ({pct(v['on_time_rate'])} on time)") for k, v in o["by_kind"].items()]
    return Section("Bottom-up cases and 12345 work orders", paragraphs=[
        "Bottom-up cases are found by grid workers, residents' app reports, riders and devices and are on time when every "
        "unit kept its own limit. 12345 work orders come down from the hotline centre with a limit in working days by "
        "kind, counted from dispatch, whoever holds the order.",
    ], tables=[Table(["", "bottom-up", "12345 orders"], rows)])


def _property_section(s: dict[str, Any]) -> Section | None:
    """What the property companies (物业) heard of first, settled, and handed into the platform."""
    p = s.get("property")
    if not p or not p.get("received"):
        return None
    share = p.get("disputes_share_reaching_street")
    rows = [
        ("matters the property companies heard of first", p["received"]),
        ("settled by them (never registered on the platform)", p["settled"]),
        ("handed into the platform through the community", f"{p['escalated']} ({p['escalated_share']:.1%})"),
        ("settled by 物业 per 1,000 residents per day", f"{p['settled_per_1000_per_day']:.3f}"),
        ("utilisation of property staff on matters", "–" if s["utilisation"].get("property") is None else f"{s['utilisation']['property']:.1%}"),
        ("property and neighbour disputes among residents' matters reaching the street", "–" if share is None else f"{share:.1%}"),
    ]
    return Section("Property management (物业)", paragraphs=[
        "In compounds with a property company, residents' reports and the compound's sensors about its common parts "
        "reach the company first (Xiangyang's 山水家园); it settles what it can with its own staff and hours and hands "
        "the rest into the platform through the community. Cuntan counts property and neighbour disputes as over half "
        "of its petitions (信访, a channel the twin does not model); the last row is the nearest figure.",
    ], tables=[Table(["", "value"], rows)])


def build_run_report(result: RunResult) -> Report:
    s = result.summary
    rep = Report(title=f"gridtwin run · {s['scenario']}", meta={"seed": s["seed"], "days": s["days"], "version": s["version"]})
    kpis = [
        ("cases (after warm-up)", s["cases_total"]),
        ("cases per 1,000 residents per day", s["cases_per_1000_per_day"]),
        ("closure rate", s["closure_rate"]),
        ("on-time rate (按期办结率, every unit within its limit)", s["on_time_rate"]),
        ("on-time rate, end to end", s.get("on_time_rate_end_to_end")),
        ("cases per 1,000 residents per day: registered (立案) / all incidents",
         f"{s['volume_per_1000_per_day']['registered']:.2f} / {s['volume_per_1000_per_day']['all_incidents']:.2f}" if "volume_per_1000_per_day" in s else None),
        ("extensions requested / approved (延期)", f"{s.get('extensions_requested', 0)} / {s.get('extensions_approved', 0)}"),
        ("cases suspended (挂账) / reassigned (改派)", f"{s.get('suspended_cases', 0)} / {s.get('reassigned_cases', 0)}"),
        ("warnings yellow / red (督办)", f"{s.get('warnings_yellow', 0)} / {s.get('warnings_red', 0)}"),
        ("satisfaction mean (1–5)", s["satisfaction_mean"]),
        ("satisfied share (≥ 4)", s["satisfaction_share"]),
        ("backlog at end", s["backlog_end"]),
        ("escalations (of which lapsed allowance)", f"{s['escalations']} ({s['lapse_escalations']})"),
        ("repeat complaints (12345)", s["repeat_complaints"]),
        ("needs never reported (lost)", s["needs_unreported_lost"]),
        ("rider reports / points", f"{s['rider_reports']} / {s['rider_points']:g}"),
        ("party-member claims (认事)", s["volunteer_claims"]),
        ("device false alarms", s["false_alarms"]),
    ]
    ll = s["little_law"]
    rep.add(Section("Key figures", paragraphs=[
        f"{s['residents']:,} residents in {s['grids']:,} grids with {s['grid_workers']:,} full-time grid workers.",
        f"Little's law: time-average open cases L = {ll['L']:.2f}; arrival rate × mean time open λW = {ll['lambda_W']:.2f}.",
    ], tables=[Table(["KPI", "value"], kpis)]))
    for extra in (_bottom_up_and_orders(s), _property_section(s)):
        if extra is not None:
            rep.add(extra)
    h = s["hours_to_close"]
    rep.add(Section("Time to close", tables=[Table(["tier", "closed", "p50 hours", "p90 hours"],
                                                   [(t, q["n"], q["p50"], q["p90"]) for t, q in h.items()])],
                    figures=[_on_time_by_tier(s)] if s.get("on_time_by_tier") else []))
    late = [f for f in (_lateness_by(result.cases, "category", "Lateness by matter (category)", "late_by_category"),
                        _lateness_by(result.cases.assign(level_name=pd.Categorical(result.cases["resolved_level"].map(LEVEL_NAMES), categories=list(LEVEL_NAMES.values()), ordered=True)) if "resolved_level" in result.cases else result.cases,
                                     "level_name", "Lateness by the level that settled the case", "late_by_level")) if f is not None]
    if late:
        rep.add(Section("Lateness by matter and by unit", figures=late))
    figs = []
    if not result.incidents.empty:
        figs.append(_arrivals_by_hour(result.incidents))
    figs.append(_channels(s))
    rep.add(Section("Arrivals", figures=figs))
    rep.add(Section("Backlog", figures=[_backlog(result.kpi)] if len(result.kpi) else []))
    rep.add(Section("Where cases close", figures=[_levels(s)]))
    wd = _worker_day(s)
    rep.add(Section("Utilisation", figures=[_utilisation(s)] + ([wd] if wd is not None else [])))
    if "modes" in s:  # the [emergency] section
        from reports.modes_report import modes_section

        rep.add(modes_section(result))
    return rep


def write_run_report(result: RunResult, out: Path) -> Path:
    """Render ``report.html`` (figures beside it) into the run directory ``out``; the CLI calls this
    after ``simulate`` + ``write_run_dir``, so the core never depends on the renderer."""
    out = Path(out)
    return build_run_report(result).write(out / "report.html", out / "figures")
