"""The capacity report: the latency curve over offered rates, the knee and what saturated first
(renders ``capacity.json``)."""

from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt

from reports.html import Report, Section, Table, figure


def _curve_figure(result: dict[str, Any]) -> Any:
    """Latency and answered rate against the offered rate; the saturation indicators beside."""
    rows = result["curve"]
    x = [r["rate"] for r in rows]
    fig, (ax1, ax2, ax3) = plt.subplots(1, 3, figsize=(15, 3.8))
    ax1.plot(x, [r["p50_ms"] for r in rows], "o-", label="p50")
    ax1.plot(x, [r["p99_ms"] for r in rows], "s--", label="p99")
    ax1.axhline(result["limits"]["p99_ms"], color="tab:red", lw=0.8, label="p99 limit")
    if result.get("knee_rps"):
        for ax in (ax1, ax2, ax3):
            ax.axvline(result["knee_rps"], color="tab:green", lw=0.8, ls=":")
    ax1.set(title="Latency by offered rate", xlabel="offered requests/s", ylabel="ms", yscale="log")
    ax1.legend(fontsize=8)
    ax2.plot(x, x, color="tab:gray", lw=0.8, label="offered")
    ax2.plot(x, [r["achieved_rps"] for r in rows], "o-", label="answered")
    ax2.set(title="Throughput", xlabel="offered requests/s", ylabel="requests/s")
    ax2.legend(fontsize=8)
    for key, label in (("cpu_util", "server CPU (of workers)"), ("machine_busy", "machine busy"),
                       ("client_cpu_util", "generator CPU"), ("db_cpu_util", "PostgreSQL CPU (cores)")):
        ax3.plot(x, [r["server"].get(key) for r in rows], "o-", label=label)
    ax3.set(title="Resources by offered rate", xlabel="offered requests/s", ylabel="share")
    ax3.legend(fontsize=8)
    fig.tight_layout()
    return fig


def build_capacity_report(result: dict[str, Any]) -> Report:
    lim = result["limits"]
    rep = Report(
        title=f"Capacity knee — {result['mix']} mix on {result['db']} ({result['scenario']})",
        meta={
            "command": result.get("command", ""),
            "limits": f"p99 ≤ {lim['p99_ms']:g} ms, errors ≤ {lim['error_rate']:g}, answered ≥ {lim['min_throughput']:g} × offered",
            "steps": f"{result['steps_run']} steps of {result['step_s']:g} s ({result['warmup_s']:g} s warm-up), open-loop Poisson arrivals",
            "service": f"twin serve, {result['serve_workers']} worker(s), {result['db']}",
        },
    )
    sat = result["saturation"]
    knee = result.get("knee_rps")
    head = (f"Highest sustained offered rate: {knee:.1f} requests/s" if knee is not None else "No offered rate was sustained")
    if result.get("reached_max"):
        head += " (the highest tried; the knee lies above)"
    elif result.get("broken_at_rps") is not None:
        head += f"; {result['broken_at_rps']:.1f} requests/s broke the limits"
    rep.add(Section("The knee", paragraphs=[head + ".", f"Saturated first: {sat['first'] or 'none measured'} — {sat['explanation']}."],
                    figures=[figure(_curve_figure(result), "capacity_curve", "Latency curve and resources by offered rate")]))
    rows = [[r["rate"], r["achieved_rps"], r["p50_ms"], r["p99_ms"], round(100 * r["error_rate"], 3), r["server"].get("cpu_util"),
             r["server"].get("queue_depth_max"), r["server"].get("commit_ms_p99"), r["server"].get("client_cpu_util"),
             r["server"].get("machine_busy"), "yes" if r["sustained"] else "; ".join(r["broke"])] for r in result["curve"]]
    rep.add(Section("Steps by offered rate", tables=[Table(
        ["offered/s", "answered/s", "p50 ms", "p99 ms", "errors %", "server CPU", "committer queue max", "commit p99 ms",
         "generator CPU", "machine busy", "sustained"], rows)]))
    ind = sat.get("indicators") or {}
    if ind:
        rep.add(Section("Saturation indicators (≥ 1: past the limit)", paragraphs=[
            "Each resource's value at each step over its limit: server CPU 0.85 of the workers, committer queue 4 × the lowest "
            "step's (≥ 8), commit p99 3 × the lowest step's (≥ 5 ms), generator CPU 0.9 of a core, machine 95 % busy. "
            "Server, database and load generator share this machine's cores: read a 'machine' verdict as 'this machine', not the platform."],
            tables=[Table(["indicator", *[f"{r['rate']:.0f}/s" for r in result["curve"]]], [[k, *v] for k, v in ind.items()])]))
    return rep
