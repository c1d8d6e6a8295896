"""Figures and the HTML report of a study (a staffing sweep or a policy comparison).

Sweep: each headline KPI against the first varied field with its 95 % CI band (one line per
value of a second field), a heat map when two fields are varied, utilisation against staffing,
and — when the street command centre's dispatchers are varied — the Erlang C curve beside the
simulated one. Comparison: the distribution of each KPI per policy, the paired differences, and
the verdict table. Built with the shared builder :mod:`reports.html`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from reports.html import Figure, Report, Section, Table, figure  # noqa: E402
from twin.study.erlang import ErlangCurve, erlang_curve  # noqa: E402
from twin.study.kpi import HEADLINE, direction  # noqa: E402
from twin.study.tasks import SingleQueue  # noqa: E402

if TYPE_CHECKING:
    from pathlib import Path

    from twin.study.compare import CompareResult
    from twin.study.sweep import SweepResult

#: At most this many lines per panel (further values of a second field are left out and said so).
MAX_LINES = 8


def _label(kpi: str) -> str:
    return kpi.replace("_", " ")


def _headline(kpis: Sequence[str]) -> list[str]:
    head = [k for k in HEADLINE if k in kpis]
    extra = [k for k in kpis if k.startswith("hours_to_close.") and k.endswith(".p90")]
    return head + extra[:2]


def _ci_panel(ax: Any, stats: pd.DataFrame, kpi: str, x: str, line_field: str | None) -> list[str]:
    """One KPI against ``x`` with 95 % CI bands; returns notes about what was left out."""
    sub = stats[stats["kpi"] == kpi]
    notes: list[str] = []
    groups: list[tuple[str, pd.DataFrame]]
    if line_field is None:
        groups = [("", sub)]
    else:
        values = list(dict.fromkeys(sub[line_field]))
        if len(values) > MAX_LINES:
            notes.append(f"{line_field}: showing {MAX_LINES} of {len(values)} values")
            values = values[:MAX_LINES]
        groups = [(f"{line_field}={v}", sub[sub[line_field] == v]) for v in values]
    for name, g in groups:
        g = g.sort_values(x)
        xs = g[x].to_numpy(dtype=float)
        line = ax.plot(xs, g["mean"].to_numpy(dtype=float), marker="o", ms=3, label=name or "mean")[0]
        lo, hi = g["ci_low"].to_numpy(dtype=float), g["ci_high"].to_numpy(dtype=float)
        if not np.all(np.isnan(lo)):
            ax.fill_between(xs, lo, hi, color=line.get_color(), alpha=0.2, linewidth=0)
    ax.set_xlabel(x)
    ax.set_ylabel(_label(kpi))
    ax.grid(alpha=0.3)
    return notes


def kpi_figure(result: SweepResult, kpis: Sequence[str]) -> Figure:
    """Headline KPIs against the first varied field, mean with 95 % CI band."""
    x = result.fields[0]
    line_field = result.fields[1] if len(result.fields) > 1 else None
    n = len(kpis)
    cols = 2 if n > 1 else 1
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(6.2 * cols, 3.6 * rows), squeeze=False)
    notes: list[str] = []
    for ax, kpi in zip(axes.flat, kpis, strict=False):
        notes += _ci_panel(ax, result.stats, kpi, x, line_field)
        if result.target is not None and result.target.kpi == kpi:
            ax.axhline(result.target.value, color="crimson", ls="--", lw=1, label=f"target {result.target}")
            for f in result.findings:
                if f.confident is not None and not f.others:
                    ax.axvline(float(f.confident), color="crimson", lw=0.8, ls=":", label="met with 95 % confidence")
        if line_field is not None or (result.target is not None and result.target.kpi == kpi):
            ax.legend(fontsize=7)
    for ax in list(axes.flat)[n:]:
        ax.set_visible(False)
    fig.tight_layout()
    caption = f"Mean over {result.reps} replications per point; band = 95 % t confidence interval."
    if result.fields[2:]:
        caption += f" Lines pool every value of {', '.join(result.fields[2:])}."
    if notes:
        caption += " " + "; ".join(sorted(set(notes))) + "."
    return figure(fig, "kpi_vs_field", f"KPIs against {x}", caption)


def heatmap_figure(result: SweepResult, kpi: str) -> Figure:
    """Mean of ``kpi`` over the first two varied fields."""
    f1, f2 = result.fields[0], result.fields[1]
    sub = result.stats[result.stats["kpi"] == kpi]
    table = sub.pivot_table(index=f2, columns=f1, values="mean", aggfunc="mean", sort=True)
    fig, ax = plt.subplots(figsize=(1.0 + 0.7 * table.shape[1], 1.2 + 0.45 * table.shape[0]))
    cmap = "RdYlGn" if direction(kpi) == "higher" else ("RdYlGn_r" if direction(kpi) == "lower" else "viridis")
    im = ax.imshow(table.to_numpy(dtype=float), aspect="auto", origin="lower", cmap=cmap)
    ax.set_xticks(range(table.shape[1]), [str(c) for c in table.columns], rotation=45, fontsize=8)
    ax.set_yticks(range(table.shape[0]), [str(i) for i in table.index], fontsize=8)
    ax.set_xlabel(f1)
    ax.set_ylabel(f2)
    for (i, j), v in np.ndenumerate(table.to_numpy(dtype=float)):
        ax.text(j, i, f"{v:.3g}", ha="center", va="center", fontsize=6)
    fig.colorbar(im, ax=ax, label=_label(kpi))
    fig.tight_layout()
    caption = "Mean over replications."
    if result.fields[2:]:
        caption += f" Averaged over {', '.join(result.fields[2:])}."
    return figure(fig, f"heatmap_{kpi}", f"{_label(kpi)} over {f1} × {f2}", caption)


def utilisation_figure(result: SweepResult) -> Figure | None:
    """Every utilisation KPI against the first varied field, with 95 % CI bands."""
    util = [k for k in result.kpis if k.startswith("utilisation.")]
    if not util:
        return None
    x = result.fields[0]
    fig, ax = plt.subplots(figsize=(7, 4))
    sub = result.stats
    if len(result.fields) > 1:  # first value of the other fields, to keep one line per role
        for f in result.fields[1:]:
            sub = sub[sub[f] == sub[f].iloc[0]]
    for kpi in util:
        g = sub[sub["kpi"] == kpi].sort_values(x)
        xs = g[x].to_numpy(dtype=float)
        line = ax.plot(xs, g["mean"].to_numpy(dtype=float), marker="o", ms=3, label=kpi.split(".", 1)[1])[0]
        ax.fill_between(xs, g["ci_low"].to_numpy(dtype=float), g["ci_high"].to_numpy(dtype=float),
                        color=line.get_color(), alpha=0.2, linewidth=0)
    ax.axhline(1.0, color="grey", lw=0.8, ls="--")
    ax.set_xlabel(x)
    ax.set_ylabel("utilisation")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    caption = "Busy share of working time per role; band = 95 % CI."
    if len(result.fields) > 1:
        caption += " Other varied fields at their first value: " + ", ".join(
            f"{f}={sub[f].iloc[0]}" for f in result.fields[1:]) + "."
    return figure(fig, "utilisation", f"Utilisation against {x}", caption)


def erlang_figure(curve: ErlangCurve, queue: SingleQueue) -> Figure:
    """Erlang C (lines) beside the simulation (points with 95 % CI) against the number of servers."""
    t = curve.table
    panels = 3 if curve.wait_kpi else 2
    fig, axes = plt.subplots(1, panels, figsize=(4.3 * panels, 3.6))
    c = t["c"].to_numpy(dtype=float)
    ax = axes[0]
    ax.plot(c, t["erlang_util"], color="black", lw=1.2, label="Erlang C: a/c")
    if "sim_util" in t:
        s = t.dropna(subset=["sim_util"])
        ax.errorbar(s["c"], s["sim_util"], yerr=[s["sim_util"] - s["sim_util_low"], s["sim_util_high"] - s["sim_util"]],
                    fmt="o", color="tab:blue", capsize=3, label="simulated")
    ax.set_ylabel("utilisation")
    ax.set_ylim(0, 1.05)
    ax = axes[1]
    ax.plot(c, t["erlang_p_wait"], color="black", lw=1.2, label="Erlang C: P(wait)")
    ax.set_ylabel("probability a ticket waits")
    ax.set_ylim(0, 1.05)
    if curve.wait_kpi:
        ax = axes[2]
        finite = t[t["erlang_wait"] < float("inf")]
        name = "W = Wq + 1/μ" if curve.wait_includes_service else "Wq"
        ax.plot(finite["c"], finite["erlang_wait"], color="black", lw=1.2, label=f"Erlang C: {name}")
        s = t.dropna(subset=["sim_wait"])
        ax.errorbar(s["c"], s["sim_wait"], yerr=[s["sim_wait"] - s["sim_wait_low"], s["sim_wait_high"] - s["sim_wait"]],
                    fmt="o", color="tab:blue", capsize=3, label="simulated")
        ax.set_ylabel("mean minutes until served" if curve.wait_includes_service else "mean wait in queue (min)")
        ax.set_ylim(bottom=0)
    for ax in axes:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel(queue.field)
        ax.axvline(curve.least_stable(), color="crimson", lw=0.8, ls=":")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    return figure(fig, "erlang_" + queue.field.replace(".", "_"), f"Erlang C beside the simulation: {queue.label}",
                  f"Offered load a = {curve.offered_load:.3g} Erlangs estimated from the simulation "
                  f"({curve.arrivals_per_hour:.3g} per hour × {curve.service_minutes:.3g} min); dotted line: "
                  f"the fewest servers with a steady state (c = {curve.least_stable()}).")


def erlang_section(result: SweepResult) -> Section | None:
    """Erlang C beside the simulated curve for each varied single-queue part (e.g. street dispatchers)."""
    figs: list[Figure] = []
    paragraphs: list[str] = []
    for q in result.extra.get("single_queues", []):
        curve = erlang_curve(result.stats, q.field, q.utilisation_kpi, q.service_minutes, q.wait_kpi,
                             q.wait_includes_service)
        if curve is None:
            continue
        figs.append(erlang_figure(curve, q))
        paragraphs.append(
            f"{q.label}: treated as M/M/c with mean service {q.service_minutes:.3g} min and the offered load the "
            f"simulation measured at its best staffing ({curve.offered_load:.3g} Erlangs). Where the points leave "
            "the lines, the model is not a textbook queue: working hours, surges, escalation by allowance lapse "
            "and feedback from residents change who arrives and when."
        )
    if not figs:
        return None
    return Section("Erlang C beside the simulated curve", paragraphs, figures=figs)


def _stats_table(stats: pd.DataFrame, by: Sequence[str], kpis: Sequence[str], title: str) -> Table:
    sub = stats[stats["kpi"].isin(kpis)]
    rows = [[*(r[c] for c in by), r["kpi"], r["n"], r["mean"], r["sd"], r["ci_low"], r["ci_high"]]
            for r in sub.to_dict("records")]
    return Table([*by, "KPI", "n", "mean", "sd", "95 % CI low", "95 % CI high"], rows, title)


def sweep_report(result: SweepResult) -> Path:
    """Write ``report.html`` (and ``figures/*.png``) into the sweep's directory."""
    head = _headline(result.kpis)
    rep = Report(
        f"Staffing sweep — {result.scenario.label}",
        meta={
            "scenario": result.scenario.path or "(default)",
            "varied": "; ".join(f"{v.field} ∈ {list(v.values)}" for v in result.varies),
            "overrides": ", ".join(result.overrides) or "—",
            "replications per point": result.reps,
            "study seed": result.seed,
            "days": result.days if result.days is not None else "(scenario)",
            "model": result.model,
            "executor": result.executor,
        },
    )
    paragraphs = [
        f"{len(result.points)} points × {result.reps} replications. Replication k uses the same seed at every point "
        "(common random numbers), so the curves are compared on the same days of incidents.",
    ]
    if result.target is not None:
        paragraphs += [f.sentence() for f in result.findings]
        paragraphs.append(
            "“With 95 % confidence” means the whole 95 % confidence interval of the mean meets the target; "
            "“on average” means the mean does. Both also require every larger staffing in the sweep to meet it."
        )
    rep.add(Section("Answer", paragraphs))
    figs = [kpi_figure(result, head)]
    if len(result.fields) >= 2:
        figs.append(heatmap_figure(result, result.target.kpi if result.target else head[0]))
    util = utilisation_figure(result)
    if util is not None:
        figs.append(util)
    rep.add(Section("Figures", figures=figs))
    erl = erlang_section(result)
    if erl is not None:
        rep.add(erl)
    rep.add(Section("Statistics per point", tables=[_stats_table(result.stats, ["point", *result.fields], head,
                                                                  "mean, sd and 95 % t-CI")]))
    return rep.write(result.out / "report.html", figures_dir=result.out / "figures")


# --- comparison ------------------------------------------------------------------------------


def distribution_figure(result: CompareResult, kpis: Sequence[str]) -> Figure:
    """Per-replication values of each KPI per policy: box plot with the points over it."""
    n = len(kpis)
    cols = 2 if n > 1 else 1
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(6.2 * cols, 3.4 * rows), squeeze=False)
    for ax, kpi in zip(axes.flat, kpis, strict=False):
        data = [result.results.loc[result.results["policy"] == u, kpi].dropna().to_numpy(dtype=float)
                for u in result.units]
        ax.boxplot(data, showmeans=True)
        ax.set_xticks(range(1, len(result.units) + 1), result.units, rotation=15, fontsize=8)
        rng = np.random.default_rng(0)  # jitter only; fixed so the figure is reproducible
        for i, d in enumerate(data, start=1):
            ax.scatter(i + rng.uniform(-0.12, 0.12, d.size), d, s=8, alpha=0.5)
        ax.set_ylabel(_label(kpi))
        ax.grid(alpha=0.3, axis="y")
    for ax in list(axes.flat)[n:]:
        ax.set_visible(False)
    fig.tight_layout()
    return figure(fig, "distributions", "KPI distributions per policy",
                  f"{result.reps} replications per policy with the same seeds; triangle = mean.")


def difference_figure(result: CompareResult, kpis: Sequence[str]) -> Figure:
    """Mean paired difference B − A with its 95 % CI, for every pair and KPI."""
    sub = result.paired[result.paired["kpi"].isin(kpis)]
    pairs = max(1, len(sub) // max(1, len(kpis)))
    cols = 2 if len(kpis) > 1 else 1
    rows = math.ceil(len(kpis) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(6.4 * cols, (1.3 + 0.45 * pairs) * rows), squeeze=False)
    for ax, kpi in zip(axes.flat, kpis, strict=False):
        g = sub[sub["kpi"] == kpi]
        ys = np.arange(len(g))
        d = g["diff"].to_numpy(dtype=float)
        lo, hi = g["ci_low"].to_numpy(dtype=float), g["ci_high"].to_numpy(dtype=float)
        colors = ["seagreen" if b not in ("none", "n/a") else "grey" for b in g["better"]]
        for y, di, low, high, col in zip(ys, d, lo, hi, colors, strict=True):
            ax.errorbar([di], [y], xerr=[[di - low], [high - di]], fmt="o", color=col, capsize=3)
        ax.axvline(0, color="black", lw=0.8)
        ax.set_yticks(ys, [f"{r['b']} − {r['a']}" for r in g.to_dict("records")], fontsize=7)
        ax.set_ylim(-0.6, len(g) - 0.4)
        ax.set_title(_label(kpi), fontsize=9)
        ax.grid(alpha=0.3, axis="x")
    for ax in list(axes.flat)[len(kpis):]:
        ax.set_visible(False)
    fig.tight_layout()
    return figure(fig, "paired_differences", "Paired differences with 95 % CIs",
                  "Green: significant after Holm adjustment on a KPI with a better direction; grey otherwise.")


def compare_report(result: CompareResult) -> Path:
    """Write ``report.html`` (and ``figures/*.png``) into the comparison's directory."""
    head = _headline(result.kpis)
    rep = Report(
        "Policy comparison — " + " vs ".join(result.units),
        meta={
            "policies": "; ".join(f"{u}: {p.file}" for u, p in zip(result.units, result.policies, strict=True)),
            "replications per policy": result.reps,
            "study seed": result.seed,
            "days": result.days if result.days is not None else "(scenario)",
            "model": result.model,
            "executor": result.executor,
        },
    )
    rep.add(Section("Policies", [f"{u} — {p.description or p.name}" + (f" (changes: {', '.join(p.overrides)})"
                                                                       if p.overrides else "")
                                 for u, p in zip(result.units, result.policies, strict=True)]))
    verdicts = result.verdicts()
    verdicts = verdicts[verdicts["kpi"].isin(result.kpis)]
    rows = [[r["kpi"], r["a"], r["b"], r["better"], r["diff"], r["rel_diff"], r["ci_low"], r["ci_high"], r["p"],
             r["p_adj"]] for r in verdicts.to_dict("records")]
    rep.add(Section(
        "Verdict",
        ["Each row compares B with A on the same seeds (difference = B − A). ‘better’ names the policy that is "
         "significantly better (paired t-test, 5 % level, Holm-adjusted across pairs) in the KPI's better direction; "
         "‘none’ means no significant difference."]
        + [r["verdict"] for r in verdicts[verdicts["kpi"].isin(head)].to_dict("records")],
        tables=[Table(["KPI", "A", "B", "better", "B − A", "relative", "95 % CI low", "95 % CI high", "p",
                       "p (Holm)"], rows)],
    ))
    rep.add(Section("Figures", figures=[distribution_figure(result, head), difference_figure(result, head)]))
    neutral = result.paired[(result.paired["direction"] == "neutral")]
    rep.add(Section(
        "Statistics per policy",
        tables=[_stats_table(result.stats, ["policy"], head, "mean, sd and 95 % t-CI"),
                Table(["KPI", "A", "B", "B − A", "95 % CI low", "95 % CI high", "p"],
                      [[r["kpi"], r["a"], r["b"], r["diff"], r["ci_low"], r["ci_high"], r["p"]]
                       for r in neutral.to_dict("records")], "KPIs with no better direction (volumes, utilisation)")],
    ))
    return rep.write(result.out / "report.html", figures_dir=result.out / "figures")
