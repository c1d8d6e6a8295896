"""The report of one run: KPI tables and the figures the issue asks for — arrivals by hour of
day, backlog over time, on-time rate by tier, share closed at each level, utilisation of
workers and departments, and the channel mix."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import matplotlib.pyplot as plt
import numpy as np

from reports.html import Figure, Report, Section, Table, figure, zh

if TYPE_CHECKING:
    from twin.run import RunResult

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


def _on_time_by_tier(cases: Any) -> Figure:
    fig, ax = plt.subplots(figsize=(5, 3))
    tiers = ["T0", "T1", "T2", "T3"]
    ok = cases["resolved_at"].notna() & ~cases["state"].isin(["rejected", "merged"])
    rates = []
    for t in tiers:
        sel = ok & (cases["tier"] == t)
        rates.append(float((cases.loc[sel, "resolved_at"] <= cases.loc[sel, "due_at"] + 1e-9).mean()) if sel.any() else 0.0)
    ax.bar(tiers, rates, color="#55a868")
    for i, r in enumerate(rates):
        ax.text(i, r + 0.01, f"{100 * r:.1f}%", ha="center", fontsize=8)
    ax.set_ylim(0, 1.08)
    ax.set_ylabel(zh("按期办结率", "resolved by due time"))
    return figure(fig, "on_time_by_tier", "On-time rate by tier", "T0 ≤ 30 min on site; T1 ≤ 2 h; T2 ≤ 2 days; T3 ≤ 7 days.")


def _levels(summary: dict[str, Any]) -> Figure:
    fig, ax = plt.subplots(figsize=(5, 3))
    lv = summary["closed_at_level"]
    names = list(lv)
    ax.bar(names, [lv[k] for k in names], color="#8172b3")
    ax.axhline(0.45, color="grey", ls="--", lw=0.8, label="calibration: grid 0.45")
    ax.set_ylabel(zh("办结层级占比", "share of resolved cases"))
    ax.legend(frameon=False, fontsize=8)
    return figure(fig, "closed_at_level", "Share closed at each level", "小事不出网、大事不出村、难事不出街: where cases were finally resolved.")


def _utilisation(summary: dict[str, Any]) -> Figure:
    fig, ax = plt.subplots(figsize=(6, 3))
    u = {k: v for k, v in summary["utilisation"].items() if v is not None}
    ax.barh(list(u), list(u.values()), color="#dd8452")
    ax.set_xlim(0, 1)
    ax.set_xlabel(zh("工作时间占用率", "busy share of working time (case handling)"))
    return figure(fig, "utilisation", "Utilisation of workers and departments",
                  "Effort on cases divided by head-minutes on duty; grid workers also patrol and visit, which is not counted here.")


def _channels(summary: dict[str, Any]) -> Figure:
    fig, ax = plt.subplots(figsize=(5, 3))
    mix = summary["channel_mix"]
    ax.bar(list(mix), list(mix.values()), color=[CHANNEL_COLOURS[k] for k in mix])
    ax.set_ylabel(zh("案件占比", "share of cases"))
    return figure(fig, "channel_mix", "Channel mix", "How cases reached the platform.")


def build_run_report(result: RunResult) -> Report:
    s = result.summary
    rep = Report(title=f"gridtwin run · {s['scenario']}", meta={"seed": s["seed"], "days": s["days"], "version": s["version"]})
    kpis = [
        ("cases (after warm-up)", s["cases_total"]),
        ("cases per 1,000 residents per day", s["cases_per_1000_per_day"]),
        ("closure rate", s["closure_rate"]),
        ("on-time rate (按期办结率)", s["on_time_rate"]),
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
    h = s["hours_to_close"]
    rep.add(Section("Time to close", tables=[Table(["tier", "closed", "p50 hours", "p90 hours"],
                                                   [(t, q["n"], q["p50"], q["p90"]) for t, q in h.items()])],
                    figures=[_on_time_by_tier(result.cases)] if not result.cases.empty else []))
    figs = []
    if not result.incidents.empty:
        figs.append(_arrivals_by_hour(result.incidents))
    figs.append(_channels(s))
    rep.add(Section("Arrivals", figures=figs))
    rep.add(Section("Backlog", figures=[_backlog(result.kpi)] if len(result.kpi) else []))
    rep.add(Section("Where cases close", figures=[_levels(s)]))
    rep.add(Section("Utilisation", figures=[_utilisation(s)]))
    if "modes" in s:  # the [emergency] section (issue 4)
        from reports.modes_report import modes_section

        rep.add(modes_section(result))
    return rep
