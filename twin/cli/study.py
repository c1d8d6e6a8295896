"""``twin sweep``, ``twin compare`` and ``twin switch-effect``: staffing sweeps, policy
comparisons, and what an emergency switch buys.

Sweeps and comparisons write a study directory (``--out``; by default ``studies/<name>-<hash>``
from the study's definition, so running the same command again resumes it) with every
replication's ``summary.json``, tidy tables (Parquet + CSV) and ``report.html``, rendered here
after the study. ``switch-effect`` is its own command, not an option of ``compare``: it pairs one
scenario with itself (the switch on and off) on the ``modes`` block's metrics, where ``compare``
pairs policy files on the headline KPIs.
"""

from __future__ import annotations

import importlib
import math
import sys
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from twin.cli import checks
from twin.study.errors import StudyError
from twin.study.executors import Executor, make_executor
from twin.study.kpi import HEADLINE, SUMMARY_KPIS
from twin.study.spec import Target, parse_target, parse_vary, study_key
from twin.study.tasks import Model

console = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 140)
err = Console(stderr=True, soft_wrap=True)

DEFAULT_MODEL = "twin.study.model:DISTRICT_MODEL"
#: Verdict sentences printed beyond the headline table (the rest are in paired.csv and the report).
MAX_VERDICT_LINES = 10


def _model(ref: str) -> Model:
    module, _, attr = ref.partition(":")
    try:
        obj = getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as exc:
        raise StudyError(f"--model {ref!r}: expected module:attribute naming a study Model ({exc})") from None
    if not isinstance(obj, Model):
        raise StudyError(f"--model {ref!r}: expected a twin.study.tasks.Model, got {type(obj).__name__}")
    return obj


def _executor(dask: str | None, workers: int | None, key: str) -> Executor:
    return make_executor(dask, workers, key)


def _fail(exc: Exception) -> typer.Exit:
    err.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False, markup=True)  # "[emergency]" is text
    return typer.Exit(2)


def _interrupted(out_dir: Path) -> checks.Interrupted:
    return checks.Interrupted(
        f"finished replications are kept in {out_dir}; run the same command again to resume"
    )


#: The options ``twin sweep`` and ``twin compare`` share (one definition, one help text).
_OUT: Any = typer.Option(None, "--out", help="Study directory (rerun with the same --out to resume).")
_DASK: Any = typer.Option(None, "--dask", help="'local' for a LocalCluster, or tcp://HOST:8786.")
_DAYS: Any = typer.Option(None, "--days", min=checks.MIN_DAYS, help="Simulated days per replication, the warm-up included; must exceed run.warmup_days (default: the scenario's).")
_SEED: Any = typer.Option(1, "--seed", min=0, help="Study seed; replication k's seed is derived from it by index.")
_WORKERS: Any = typer.Option(None, "--workers", min=1, help="Local worker processes (default: CPUs; 1 = inline).")
_NO_REPORT: Any = typer.Option(False, "--no-report", help="Skip report.html.")
_MODEL: Any = typer.Option(DEFAULT_MODEL, "--model", hidden=True, help="module:attribute of a study Model.")


def sweep(
    scenario: Path | None = typer.Argument(None, help="Scenario file (default: the embedded street scenario)."),
    vary: list[str] = typer.Option(..., "--vary", help="FIELD=START:STOP:STEP (inclusive) or FIELD=A,B,C; repeatable."),
    reps: int = typer.Option(20, "--reps", min=1, help="Replications per point (common random numbers)."),
    target: str | None = typer.Option(None, "--target", help="KPI>=LEVEL (or <=, >, <), e.g. on_time_rate>=0.99."),
    out: Path | None = _OUT,
    dask: str | None = _DASK,
    days: float | None = _DAYS,
    seed: int = _SEED,
    workers: int | None = _WORKERS,
    set_: list[str] = typer.Option([], "--set", help="Fixed override dotted.path=value at every point; repeatable."),
    more_staff_when: str = typer.Option(
        "auto", "--more-staff-when",
        help="Whether a higher or lower value of the first --vary field means more staff (auto: *_per_* loads mean fewer).",
    ),
    no_report: bool = _NO_REPORT,
    model_ref: str = _MODEL,
) -> None:
    """Sweep scenario fields over a grid; CIs per point; the least staffing meeting a target."""
    from reports.study_report import sweep_report
    from twin.study.sweep import run_sweep

    try:
        varies = [parse_vary(v) for v in vary]
        tgt: Target | None = None
        if target:
            tgt = parse_target(target, SUMMARY_KPIS if model_ref == DEFAULT_MODEL else None)
        if more_staff_when not in ("auto", "higher", "lower"):
            raise StudyError(f"--more-staff-when {more_staff_when!r}: expected auto, higher or lower")
        msw = None if more_staff_when == "auto" else more_staff_when == "higher"
        model = _model(model_ref)
        key = study_key({"s": str(scenario), "v": vary, "set": set_, "seed": seed, "days": days, "m": model_ref})
        out_dir = checks.out_dir(out or Path("studies") / f"sweep-{scenario.stem if scenario else 'street'}-{key}")
        result = run_sweep(
            scenario, varies, reps, out_dir, seed=seed, days=days, overrides=set_, target=tgt, model=model,
            executor=_executor(dask, workers, key), progress=True, more_staff_when_higher=msw,
        )
        report = None if no_report else sweep_report(result)
    except StudyError as exc:
        raise _fail(exc) from None
    except KeyboardInterrupt:
        raise _interrupted(out_dir) from None

    kpi = tgt.kpi if tgt else "on_time_rate"
    if kpi not in result.kpis:
        kpi = result.kpis[0]
    table = Table(title=f"{kpi}: mean and 95 % CI over {reps} replications per point")
    for f in result.fields:
        table.add_column(f)
    for c in ("mean", "95 % CI", "sd"):
        table.add_column(c, justify="right")
    for r in result.stats[result.stats["kpi"] == kpi].to_dict("records"):
        table.add_row(*(str(r[f]) for f in result.fields), f"{r['mean']:.4g}",
                      f"[{r['ci_low']:.4g}, {r['ci_high']:.4g}]", f"{r['sd']:.3g}")
    console.print(table)
    for finding in result.findings:
        console.print(f"[bold]{finding.sentence()}[/bold]", highlight=False)
        if finding.confident is not None and "grid_workers" in result.kpis:
            at = result.stats[(result.stats["kpi"] == "grid_workers") & (result.stats[finding.field] == finding.confident)]
            for other, value in finding.others:
                at = at[at[other] == value]
            console.print(f"  at {finding.field}={finding.confident}: {at['mean'].iloc[0]:.0f} full-time grid workers",
                          highlight=False)
    console.print(
        f"{result.ran} replications run, {result.reused} reused; study directory {result.out}"
        + (f"; report {report}" if report else ""), highlight=False,
    )


def compare(
    policies: list[Path] = typer.Argument(..., help="Two or more policy or scenario files (A.toml B.toml …)."),
    reps: int = typer.Option(30, "--reps", min=2, help="Replications per policy (same seeds for every policy)."),
    out: Path | None = _OUT,
    dask: str | None = _DASK,
    days: float | None = _DAYS,
    seed: int = _SEED,
    workers: int | None = _WORKERS,
    set_: list[str] = typer.Option([], "--set", help="Override dotted.path=value applied to every policy; repeatable."),
    no_report: bool = _NO_REPORT,
    model_ref: str = _MODEL,
) -> None:
    """Compare policies on the same seeds: paired differences, 95 % CIs, t-tests, a verdict per KPI."""
    from reports.study_report import compare_report
    from twin.study.compare import run_compare

    try:
        model = _model(model_ref)
        key = study_key({"p": [str(p) for p in policies], "set": set_, "seed": seed, "days": days, "m": model_ref})
        out_dir = checks.out_dir(out or Path("studies") / f"compare-{'-vs-'.join(p.stem for p in policies)[:60]}-{key}")
        result = run_compare(
            policies, reps, out_dir, seed=seed, days=days, overrides=set_, model=model,
            executor=_executor(dask, workers, key), progress=True,
        )
        report = None if no_report else compare_report(result)
    except StudyError as exc:
        raise _fail(exc) from None
    except KeyboardInterrupt:
        raise _interrupted(out_dir) from None

    table = Table(title=f"Headline KPIs: paired differences B − A over {reps} replications (same seeds)")
    for c in ("KPI", "A", "B", "mean A", "mean B", "B − A [95 % CI]", "p", "better"):
        table.add_column(c, justify="left" if c in ("KPI", "A", "B", "better") else "right")
    paired = result.paired
    for r in paired[paired["kpi"].isin(HEADLINE)].to_dict("records"):
        table.add_row(r["kpi"], r["a"], r["b"], f"{r['mean_a']:.4g}", f"{r['mean_b']:.4g}",
                      f"{r['diff']:+.3g} [{r['ci_low']:.3g}, {r['ci_high']:.3g}]", f"{r['p_adj']:.2g}", str(r["better"]))
    console.print(table)
    wins = paired[paired["significant"] & (paired["direction"] != "neutral") & ~paired["kpi"].isin(HEADLINE)]
    wins = wins.sort_values("p_adj")
    for r in wins.head(MAX_VERDICT_LINES).to_dict("records"):
        console.print("  " + r["verdict"], highlight=False)
    if len(wins) > MAX_VERDICT_LINES:
        console.print(f"  … {len(wins) - MAX_VERDICT_LINES} more significant differences in {result.out / 'paired.csv'} "
                      "and the report", highlight=False)
    console.print(
        f"{result.ran} replications run, {result.reused} reused; study directory {result.out}"
        + (f"; report {report}" if report else ""), highlight=False,
    )


def _fmt(x: float | None) -> str:
    return "—" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.4g}"


def switch_table(rows: list[dict[str, Any]]) -> str:
    """The rows of :func:`twin.study.switch_effect.compare_arms` as a fixed-width text table."""
    head = f"{'metric':38} {'with switch [95% CI]':>28} {'without [95% CI]':>28} {'with − without [95% CI]':>30}"
    lines = [head, "-" * len(head)]
    for r in rows:
        w = f"{_fmt(r['with_switch'])} [{_fmt(r['with_ci'][0])}, {_fmt(r['with_ci'][1])}]"
        o = f"{_fmt(r['without'])} [{_fmt(r['without_ci'][0])}, {_fmt(r['without_ci'][1])}]"
        d = f"{_fmt(r['diff'])} [{_fmt(r['diff_ci'][0])}, {_fmt(r['diff_ci'][1])}]"
        lines.append(f"{r['metric']:38} {w:>28} {o:>28} {d:>30}")
    return "\n".join(lines)


def switch_effect(
    scenario: Path = typer.Argument(..., help="Scenario TOML with an [emergency] section."),
    reps: int = typer.Option(10, "--reps", min=2, help="Paired replications (seeds 1..reps)."),
    sets: list[str] = typer.Option([], "--set", help="Override dotted.path=value in both arms; repeatable."),
    baseline: list[str] = typer.Option(
        [], "--baseline-set",
        help="dotted.path=value for the baseline arm instead of emergency.switching=false; repeatable.",
    ),
    json_out: Path | None = typer.Option(None, "--json", help="Also write the rows as JSON to this file."),
) -> None:
    """What the emergency switch buys and costs: the scenario with and without it, paired by seed."""
    import json

    from twin.scenario import ScenarioError, load_scenario
    from twin.study.switch_effect import compare_arms, switch_effect

    if json_out is not None:
        checks.out_file(json_out, "--json")
    seeds = list(range(1, reps + 1))
    try:
        sc = load_scenario(scenario, sets)
        if baseline:
            rows = compare_arms(sc, load_scenario(scenario, [*sets, *baseline]), seeds)
            what = "baseline: " + ", ".join(baseline)
        else:
            rows = switch_effect(sc, seeds)
            what = "baseline: emergency.switching=false"
    except (ScenarioError, StudyError) as exc:
        raise _fail(exc) from None
    print(f"{sc.meta.name}: {reps} paired replications (seeds 1..{reps}), {sc.run.days:g} days; {what}")
    print(switch_table(rows))
    if json_out is not None:
        json_out.write_text(json.dumps(rows, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def register(app: typer.Typer) -> None:
    from twin.cli import PLANNER

    app.command("sweep", rich_help_panel=PLANNER)(sweep)
    app.command("compare", rich_help_panel=PLANNER)(compare)
    app.command("switch-effect", rich_help_panel=PLANNER)(switch_effect)
