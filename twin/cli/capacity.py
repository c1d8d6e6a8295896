"""``twin capacity``: the capacity knee of the reference service (open-loop offered rates)."""

from __future__ import annotations

from pathlib import Path

import typer

from twin.cli import checks, loadrun

#: The mixes ``twin capacity`` offers (twin.loadtest.capacity.MIXES, kept here so that bad input
#: is answered before the load-test machinery is imported).
MIXES = ("ordinary", "storm", "checkin")


def capacity(
    mix: str = typer.Option("ordinary", "--mix", help="ordinary (a case's lifecycle), storm (members check in and look at tasks, residents report emergencies) or checkin (the check-in burst)."),
    scenario: str = typer.Option(None, "--scenario", help="Scenario whose catalogue and territory the service uses (default: the embedded street scenario; storm and checkin need an [emergency] section, e.g. scenarios/flood.toml)."),
    db: str = loadrun.db_option("an empty database"),
    out: Path = typer.Option(Path("capacity-out"), "--out", help="Output directory (capacity.json, report.html, logs)."),
    p99_ms: float = typer.Option(200.0, "--p99-ms", min=0.001, help="A step breaks when its p99 latency exceeds this (ms)."),
    error_rate: float = typer.Option(0.01, "--error-rate", min=0.0, max=0.999, help="A step breaks when its share of failed requests exceeds this."),
    start_rps: float = typer.Option(50.0, "--start-rps", min=0.001, help="First offered rate, requests a second."),
    factor: float = typer.Option(1.5, "--factor", min=1.001, help="Multiply the offered rate by this until a step breaks, then bisect."),
    max_rps: float = typer.Option(5000.0, "--max-rps", min=0.001, help="Highest offered rate tried."),
    precision: float = typer.Option(0.1, "--precision", min=0.001, help="Bisect until the broken rate is within this share of the sustained one."),
    max_steps: int = typer.Option(14, "--max-steps", min=1, help="At most this many steps."),
    step_seconds: float = typer.Option(10.0, "--step-seconds", min=0.5, help="Wall seconds each offered rate is held."),
    warmup: float = typer.Option(2.0, "--warmup", min=0.0, help="Seconds at the start of each step not measured."),
    serve_workers: int = loadrun.SERVE_WORKERS,
    connections: int = typer.Option(256, "--connections", min=1, help="Keep-alive connections of the load generator."),
    timeout: float = typer.Option(5.0, "--timeout", min=0.01, help="A request not answered within this many seconds is an error."),
    seed: int = typer.Option(1, "--seed", min=0, help="Seed of the arrival times (Poisson)."),
) -> None:
    """Find the highest offered rate the reference service sustains, its latency curve, and what saturated first."""
    if mix not in MIXES:
        raise checks.BadInput(f"--mix {mix!r}: expected one of {', '.join(MIXES)}")
    if max_rps < start_rps:
        raise checks.BadInput(f"--max-rps {max_rps:g}: expected at least --start-rps ({start_rps:g})")
    if step_seconds <= warmup:
        raise checks.BadInput(f"--step-seconds {step_seconds:g}: expected more than --warmup ({warmup:g})")
    loadrun.check_outputs(out, db)
    # the heavy imports after the cheap checks: bad input answers at once
    from twin.loadtest.capacity import CapacityOptions, run_capacity
    from twin.loadtest.knee import Limits

    opts = CapacityOptions(
        mix=mix, scenario=scenario, db=db, out=out, limits=Limits(p99_ms, error_rate), start_rps=start_rps, factor=factor,
        max_rps=max_rps, precision=precision, max_steps=max_steps, step_s=step_seconds, warmup_s=warmup,
        serve_workers=serve_workers, connections=connections, timeout_s=timeout, seed=seed,
        command=loadrun.command_line("capacity"),
    )
    result = loadrun.run_logged(lambda log: run_capacity(opts, log=log))
    from reports.capacity_report import build_capacity_report

    build_capacity_report(result).write(out / "report.html", out / "figures")
    sat = result["saturation"]
    knee = result["knee_rps"]
    if knee is None:
        print(f"no sustained rate: even {result['broken_at_rps']:.1f} requests/s broke the limits")
    else:
        above = " (the highest tried: the knee lies above --max-rps)" if result["reached_max"] else f"; broke at {result['broken_at_rps']:.1f}"
        print(f"knee: {knee:.1f} requests/s sustained ({result['mix']}, {result['db']}){above}")
    print(f"saturated first: {sat['first'] or 'none measured'} — {sat['explanation']}")
    print(f"wrote {out / 'capacity.json'} and {out / 'report.html'}")


def register(app: typer.Typer) -> None:
    from twin.cli import ENGINEER

    app.command("capacity", rich_help_panel=ENGINEER)(capacity)
