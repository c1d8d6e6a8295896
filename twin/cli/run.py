"""``twin run`` (simulate a scenario, write a run directory) and ``twin stream`` (export the
incident stream as JSON lines for load tests and other systems)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from twin.cli import checks
from twin.scenario import ScenarioError, load_scenario
from twin.summary_types import RunSummary

console = Console()

SEED_HELP = "Random seed, an integer ≥ 0 (default: run.seed of the scenario)."
DAYS_HELP = "Simulated days, the warm-up included; must exceed run.warmup_days (default: run.days)."


def _load(scenario: Path | None, sets: list[str] | None, seed: int | None, days: float | None) -> Any:
    try:
        return load_scenario(scenario, sets or ())
    except ScenarioError as exc:
        console.print(f"scenario error: {exc}", soft_wrap=True, markup=False, style="red")
        raise typer.Exit(2) from None


def _measures_something(scenario: Path | None, sets: list[str] | None, days: float | None) -> None:
    """KPIs count only cases reported after the warm-up: refuse a run no longer than it, as
    ``sweep`` and ``compare`` do (same check, same words)."""
    from twin.study.errors import StudyError
    from twin.study.model import validate_district

    try:
        validate_district(None if scenario is None else str(scenario), tuple(sets or ()), days)
    except StudyError as exc:
        raise checks.BadInput(str(exc)) from None


def _bar() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("day {task.completed:.0f}/{task.total:.0f}"),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )


def _simulate(sc: Any, seed: int | None, days: float | None, keep_events: bool | None = None, dask: str | None = None,
              parallel: bool | None = None) -> Any:
    from twin.run import simulate

    total = float(days if days is not None else sc.run.days)
    with _bar() as bar:
        task = bar.add_task(f"simulating {sc.meta.name}", total=total)
        return simulate(sc, seed=seed, days=days, progress=lambda d: bar.update(task, completed=d), keep_events=keep_events, dask=dask,
                        parallel=parallel)


def _check_dask(dask: str | None) -> None:
    from twin.executors import check_dask_address

    if dask is not None:
        try:
            check_dask_address(dask)
        except ValueError as exc:
            raise checks.BadInput(str(exc)) from None


def _memory_line(processes: dict[int, tuple[float, float]]) -> str:
    """Peak RSS of the partitions' processes and of this one (the run's memory at a glance)."""
    import os

    from twin.executors import peak_rss_mb

    others = [rss for pid, (rss, _) in processes.items() if pid != os.getpid()]
    parts = f"partition processes {', '.join(f'{mb:,.0f}' for mb in others)} MB; " if others else ""
    return f"peak RSS: {parts}this process {peak_rss_mb():,.0f} MB"


def run_city(scenario: Path, sets: list[str], partitions: int | None, seed: int | None, days: float | None, out: Path, dask: str | None) -> None:
    """``twin run city.toml``: every district's partitions in lockstep (windows done as the
    progress), each district's run directory under ``districts/``, the city's summary on top."""
    from twin.city import run_city as simulate_city
    from twin.scenario.city import load_city

    extra = [f"city.partitions_per_district={partitions}"] if partitions is not None else []
    try:
        city = load_city(scenario, [*sets, *extra])
    except ScenarioError as exc:
        console.print(f"scenario error: {exc}", soft_wrap=True, markup=False, style="red")
        raise typer.Exit(2) from None
    total = float(days if days is not None else city.districts[0].run.days)
    warm = max(s.run.warmup_days for s in city.districts)
    if total <= warm:
        raise checks.BadInput(f"--days {total:g}: expected more than run.warmup_days ({warm:g}), got {total:g}")
    try:
        with _bar() as bar:
            task = bar.add_task(f"simulating {city.name}: {len(city.districts)} districts, windows done", total=total)
            s = simulate_city(city, out, seed=seed, days=days, dask=dask, progress=lambda d: bar.update(task, completed=d))
    except KeyboardInterrupt:
        raise checks.Interrupted(f"the simulation was stopped; {out} is incomplete") from None
    t = Table(title=f"{s['city']} · {s['districts_count']} districts · {s['days']:g} days · {s['partitions']} partitions ({s['hosts']})")
    t.add_column("district")
    t.add_column("residents", justify="right")
    t.add_column("cases", justify="right")
    t.add_column("on time", justify="right")
    for name, d in s["districts"].items():
        t.add_row(name, f"{d['residents']:,}", f"{d['cases_total']:,}", _pct(d["on_time_rate"]))
    t.add_row("city", f"{s['residents']:,}", f"{s['cases_total']:,}", _pct(s["on_time_rate"]))
    console.print(t)
    console.print(f"peak RSS: largest process {s['peak_rss_mb_max_process']:,.0f} MB, this process {s['peak_rss_mb_parent']:,.0f} MB; "
                  f"wall {s['wall_seconds']:.1f} s")
    _city_level(s)
    console.print(f"not coupled: {s['not_coupled']}", soft_wrap=True, markup=False)
    console.print(f"run directory: [bold]{out}[/bold]  (districts/<name>/ per district)")


def _city_level(s: dict[str, Any]) -> None:
    """The city level's figures: the 12345 centre (and its day, by hour) and the districts' ranking."""
    h = s["hotline_centre"]
    w = h["answer_wait_s"]
    within = ", ".join(f"≤ {k} s {_pct(v)}" for k, v in h["answered_within_s"].items())
    console.print(
        f"{h['name']} (12345 centre): {h['calls']:,} calls, {h['answered_directly']:,} answered directly, {h['work_orders']:,} work orders; "
        f"answer wait p50/p90/p99 {w['p50']:.1f}/{w['p90']:.1f}/{w['p99']:.1f} s, answered {within}; occupancy {_pct(h['occupancy'])}; "
        f"abandoned {h['abandoned']:,}, gave up {h['gave_up']:,} ({h['orders_lost']:,} orders lost)",
        soft_wrap=True, markup=False)
    t = Table(title="12345 centre, average day: calls per hour vs call-takers on duty")
    for col in ("hours", "calls / h", "on duty", "mean wait s"):
        t.add_column(col, justify="right")
    by = h["by_hour_of_day"]
    for k in range(0, 24, 3):
        block = [b for b in by[k:k + 3] if b["calls"] is not None]
        if not block:
            continue
        waits = [b["mean_wait_s"] for b in block if b["mean_wait_s"] is not None]
        t.add_row(f"{k:02d}–{k + 3:02d}", f"{sum(b['calls'] for b in block) / len(block):,.1f}",
                  f"{sum(b['seats'] for b in block) / len(block):,.1f}", "—" if not waits else f"{sum(waits) / len(waits):.1f}")
    console.print(t)
    r = Table(title=f"12345 ranking (考核) · {s['operations_centre']['name']}: {s['operations_centre']['supervised']:,} 督办")
    for col in ("#", "district", "orders", "contacted in time", "on time", "satisfied", "督办"):
        r.add_column(col, justify="right" if col != "district" else "left")
    for x in s["ranking_12345"]:
        r.add_row(str(x["rank"]), x["district"], f"{x['orders_handed_down']:,}", _pct(x["contacted_in_time_rate"]), _pct(x["on_time_rate"]),
                  _pct(x["satisfaction_share"]), f"{x['supervised']:,}")
    console.print(r)


def _pct(x: Any) -> str:
    return "—" if x is None else f"{100 * x:.1f} %"


def summary_table(s: RunSummary) -> Table:
    t = Table(title=f"{s['scenario']} · seed {s['seed']} · {s['days']:g} days", show_header=True)
    t.add_column("KPI")
    t.add_column("value", justify="right")
    rejected, merged = s.get("cases_rejected", 0), s.get("cases_merged", 0)
    t.add_row("cases (after warm-up)", f"{s['cases_total']:,}")
    if rejected or merged:
        t.add_row("  of which rejected / merged into another", f"{rejected:,} / {merged:,}")
    t.add_row("cases per 1,000 residents per day", f"{s['cases_per_1000_per_day']:.2f}")
    t.add_row("closed (share of cases neither rejected nor merged)", f"{s['cases_closed']:,}  ({_pct(s['closure_rate'])})")
    t.add_row("on time (按期办结率)", _pct(s["on_time_rate"]))
    if s.get("work_orders_12345") and s.get("bottom_up"):
        b, o = s["bottom_up"], s["work_orders_12345"]
        t.add_row("  bottom-up cases: count, on time", f"{b['cases']:,}, {_pct(b['on_time_rate'])}")
        t.add_row("  12345 work orders: count, on time, re-opened", f"{o['orders']:,}, {_pct(o['on_time_rate'])}, {o['reopened']:,}")
    pm = s.get("property") or {}
    if pm.get("received"):
        t.add_row("property (物业): heard of first, settled, handed in", f"{pm['received']:,}, {pm['settled']:,}, {_pct(pm['escalated_share'])}")
    t.add_row("satisfied (score ≥ 4)", _pct(s["satisfaction_share"]))
    t.add_row("satisfaction mean (1–5)", "—" if s["satisfaction_mean"] is None else f"{s['satisfaction_mean']:.2f}")
    lv = s["closed_at_level"]
    t.add_row("closed at grid / community / street / district",
              " / ".join(f"{100 * lv[k]:.0f}%" for k in ("grid", "community", "street", "district")))
    for tier, q in s["hours_to_close"].items():
        if q["n"]:
            t.add_row(f"hours to close {tier} (p50 / p90)", f"{q['p50']:.1f} / {q['p90']:.1f}")
    t.add_row("backlog at end", f"{s['backlog_end']:,}")
    for role, u in s["utilisation"].items():
        t.add_row(f"utilisation {role}", _pct(u))
    if s.get("modes"):
        _mode_rows(t, s["modes"])
    t.add_row("SimPy events / engine transitions", f"{s['events_processed']:,} / {s['engine_transitions']:,}")
    t.add_row("wall seconds", f"{s['wall_seconds']:.2f}")
    return t


def _mode_rows(t: Table, m: dict[str, Any]) -> None:
    """The emergency switchover at a glance: when, how many came and how fast, what it bought."""
    switches = [f"{p['mode']} @ h{p['start_min'] / 60:.0f}" for p in m.get("timeline", [])[1:]]
    t.add_row("mode changes (常急转换)", ", ".join(switches) or "none")
    if m.get("mobilised_peak"):
        t.add_row("mobilised peak; minutes to 50 % / 90 % on site",
                  f"{m['mobilised_peak']:,}; {m['minutes_to_50pct']:.0f} / {m['minutes_to_90pct']:.0f}")
    if m.get("emergency_response_min_p50") is not None:
        t.add_row("emergency response minutes (p50 / p90)",
                  f"{m['emergency_response_min_p50']:.1f} / {m['emergency_response_min_p90']:.1f}")
    if m.get("vulnerable_checked_share_within_deadline") is not None:
        t.add_row("vulnerable residents checked within the deadline", _pct(m["vulnerable_checked_share_within_deadline"]))
    if m.get("normal_backlog_at_peak") is not None:
        t.add_row("normal-work backlog at the peak", f"{m['normal_backlog_at_peak']:.0f}")


def run(
    scenario: Path | None = typer.Argument(None, help="Scenario TOML (default: the embedded scenarios/street.toml)."),
    seed: int | None = typer.Option(None, "--seed", min=0, help=SEED_HELP),
    days: float | None = typer.Option(None, "--days", min=checks.MIN_DAYS, help=DAYS_HELP),
    out: Path = typer.Option(Path("runs/latest"), "--out", help="Run directory to write."),
    sets: list[str] | None = typer.Option(None, "--set", help="Override a field: dotted.path=value (repeatable)."),
    csv: bool = typer.Option(False, "--csv", help="Also write CSV copies of the tables."),
    report: bool = typer.Option(True, "--report/--no-report", help="Write report.html with figures."),
    partitions: int | None = typer.Option(
        None, "--partitions", min=1,
        help="Partitions (sets of streets) per district, each in its own worker process (default: the scenario's, in this process).",
    ),
    dask: str | None = typer.Option(
        None, "--dask", help="Run the partitions on Dask actors: 'local' (a LocalCluster) or a scheduler address tcp://HOST:8786."
    ),
) -> None:
    """Simulate a scenario (or a city: a file with a [city] table) and write a run directory
    (summary.json, tables, report.html)."""
    from twin.run import write_run_dir
    from twin.scenario.city import is_city_file

    checks.out_dir(out)
    _check_dask(dask)
    if is_city_file(scenario):
        run_city(scenario, list(sets or ()), partitions, seed, days, out, dask)  # type: ignore[arg-type]
        return
    if partitions is not None:
        sets = [*(sets or ()), f"run.partitions={partitions}"]
    sc = _load(scenario, sets, seed, days)
    _measures_something(scenario, sets, days)
    try:
        result = _simulate(sc, seed, days, dask=dask, parallel=True if partitions is not None else None)
    except KeyboardInterrupt:
        raise checks.Interrupted(f"the simulation was stopped; nothing written to {out}") from None
    write_run_dir(result, out, csv=csv or None)
    if report:
        from reports.run_report import write_run_report

        write_run_report(result, out)
    console.print(summary_table(result.summary))
    console.print(_memory_line(result.processes))
    console.print(f"run directory: [bold]{out}[/bold]" + ("  (report.html)" if report else ""))


def stream(
    scenario: Path | None = typer.Argument(None, help="Scenario TOML (default: the embedded scenarios/street.toml)."),
    out: Path = typer.Option(..., "--out", help="JSON-lines file to write (one incident per line)."),
    seed: int | None = typer.Option(None, "--seed", min=0, help=SEED_HELP),
    days: float | None = typer.Option(
        None, "--days", min=checks.MIN_DAYS, help="Simulated days to export, the warm-up included (default: run.days)."
    ),
    sets: list[str] | None = typer.Option(None, "--set", help="Override a field: dotted.path=value (repeatable)."),
) -> None:
    """Export the incident stream (time, category, tier, place, channel …) as JSON lines, the
    emergency section's incidents (tier E) included."""
    from twin.run import full_stream, write_stream

    checks.out_file(out)
    sc = _load(scenario, sets, seed, days)
    try:
        result = _simulate(sc, seed, days, keep_events=False)
    except KeyboardInterrupt:
        raise checks.Interrupted(f"the simulation was stopped; nothing written to {out}") from None
    n = write_stream(full_stream(result), out)
    console.print(f"{n:,} incidents → [bold]{out}[/bold]")


def register(app: typer.Typer) -> None:
    from twin.cli import PLANNER

    app.command("run", rich_help_panel=PLANNER)(run)
    app.command("stream", rich_help_panel=PLANNER)(stream)
