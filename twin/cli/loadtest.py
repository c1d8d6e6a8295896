"""``twin loadtest``: load-test a case platform with a scenario's incident stream."""

from __future__ import annotations

import re
from pathlib import Path

import typer

from twin.cli import checks, loadrun


def _seconds(text: str) -> float:
    """``90``, ``90s``, ``2m``, ``1h30m`` → seconds."""
    t = text.strip().lower()
    if re.fullmatch(r"\d+(\.\d+)?", t):
        return float(t)
    parts = re.findall(r"(\d+(?:\.\d+)?)([hms])", t)
    if not parts or "".join(a + b for a, b in parts) != t:
        raise typer.BadParameter(f"expected a time like 90, 90s, 2m or 1h30m, got {text!r}", param_hint="--duration")
    return sum(float(a) * {"h": 3600, "m": 60, "s": 1}[b] for a, b in parts)


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{100 * x:.1f} %"


def _num(x: float | None) -> str:
    """Counts as integers, other values to 4 significant digits (not ``0.3939393939393939``)."""
    if x is None:
        return "—"
    return f"{x:,.0f}" if float(x).is_integer() else f"{x:.4g}"


def loadtest(
    scenario: str = typer.Argument(None, help="Scenario file (default: the embedded street scenario)."),
    host: str = typer.Option(None, "--host", help="Base URL of the platform to test (default: start twin serve on 127.0.0.1)."),
    users: int = typer.Option(10, "--users", min=1, help="Arrival users (residents + devices) at the peak of the arrival rate; staff users come from the scenario."),
    duration: str = typer.Option("2m", "--duration", help="How long arrivals are played (e.g. 90s, 2m)."),
    speedup: float = typer.Option(720.0, "--speedup", min=0.001, help="Time compression: simulated seconds per wall second (720: one day in two minutes)."),
    out: Path = typer.Option(Path("loadtest-out"), "--out", help="Output directory (loadtest.json, report.html, Locust CSV/HTML, logs)."),
    fail_if: list[str] = typer.Option([], "--fail-if", help="Fail (exit 1) when METRIC OP VALUE holds, e.g. p99_ms>200, error_rate>0.01. Repeatable."),
    seed: int = typer.Option(None, "--seed", min=0, help="Seed, an integer ≥ 0 (default: the scenario's)."),
    overrides: list[str] = typer.Option([], "--set", help="Override a scenario value: dotted.path=value. Repeatable."),
    start_day: float = typer.Option(None, "--start-day", min=0.0, help="Simulated day the replay starts (default: a quarter day before the first surge, else after warm-up)."),
    target: str = typer.Option("reference", "--target", help="reference (the gridtwin API) or open311 (any GeoReport v2 endpoint at HOST/open311/v2)."),
    stream: Path = typer.Option(None, "--stream", help="Replay this `twin stream` JSON-lines file instead of generating the stream."),
    tokens: Path = typer.Option(None, "--tokens", help="With --host: JSON object of token key → token ('*' for one token for all)."),
    locust_workers: int = typer.Option(0, "--locust-workers", min=0, help="Distributed Locust on this machine: one master and N workers (0: one local process)."),
    drain: float = typer.Option(None, "--drain", min=0.0, help="Seconds the staff go on handling after the last arrival (default: a quarter of --duration, at most 60)."),
    device_timeout: float = typer.Option(5.0, "--device-timeout", min=0.001, help="Devices' request timeout in seconds (a timed-out alert is sent again with the same Idempotency-Key)."),
    device_lost_replies: float = typer.Option(
        0.0, "--device-lost-replies", min=0.0, max=1.0,
        help="Fault injection: share of device alerts (0-1, chosen by alert) whose first reply is lost on the way back; the device sends it again with the same Idempotency-Key.",
    ),
    serve_workers: int = loadrun.SERVE_WORKERS,
    db: str = loadrun.db_option("an empty database; its cases are the run's"),
    poll_minutes: float = typer.Option(10.0, "--poll-minutes", min=0.1, help="Simulated minutes between a staff member's looks at their work list."),
    members_scale: float = typer.Option(
        1.0, "--members-scale", min=0.0001,
        help="Multiply the mobilised members the scenario calls up (a city-size call-up: 100, 1000 …; 0.5 plays half of them).",
    ),
    checkin_lost_replies: float = typer.Option(
        0.0, "--checkin-lost-replies", min=0.0, max=1.0,
        help="Fault injection: share of members (0-1, chosen by member) whose first check-in reply is lost; the app sends it again with the same Idempotency-Key.",
    ),
) -> None:
    """Load-test a case platform with a scenario's arrivals, staffing and surge, compressed in time."""
    from twin.loadtest.runner import Options, run

    if target not in ("reference", "open311"):
        raise checks.BadInput(f"--target {target!r}: expected reference or open311")
    loadrun.check_outputs(out, db)
    opts = Options(
        scenario=scenario, overrides=list(overrides), seed=seed, host=host, users=users, duration_s=_seconds(duration),
        speedup=speedup, out=out, fail_if=list(fail_if), start_day=start_day, target=target, stream=stream, tokens=tokens,
        locust_workers=locust_workers, drain_s=drain, device_timeout_s=device_timeout, device_lost_replies=device_lost_replies, serve_workers=serve_workers, poll_minutes=poll_minutes, db=db,
        members_scale=members_scale, checkin_lost_replies=checkin_lost_replies,
        command=loadrun.command_line("loadtest"),
    )
    result, code = loadrun.run_logged(lambda log: run(opts, log=log))
    from reports.loadtest_report import build_loadtest_report

    build_loadtest_report(result).write(out / "report.html", out / "figures")
    s = result["system"]
    k = (result["kpis"] or {}).get("load_test") or {}
    p = (result["kpis"] or {}).get("pure_simulation") or {}
    kinds = result["failures_by_kind"] or {}
    print(
        f"{s['requests']:,} requests, {s['rps'] or 0:.1f} rps, p50 {s['p50_ms']} ms, p95 {s['p95_ms']} ms, p99 {s['p99_ms']} ms, "
        f"error rate {100 * (s['error_rate'] or 0):.2f} %; failures by kind: "
        + (", ".join(f"{kind} {n:,}" for kind, n in sorted(kinds.items())) or "none")
    )
    if k:
        print(f"backlog at the end {_num(k.get('backlog_end'))} (simulation {_num(p.get('backlog_end'))}), "
              f"on-time rate {_pct(k.get('on_time_rate'))} (simulation {_pct(p.get('on_time_rate'))})")
    mob = result.get("mobilisation")
    if mob:
        print(f"mobilisation: {_num(mob['checked_in'])} checked in on the platform ({mob['checked_in_by_load_test']} of {mob['called']} members heard back), "
              f"peak {_num(mob['checkin_rps_peak'])} check-ins/s, p50 {mob['checkin_p50_ms']} ms, p99 {mob['checkin_p99_ms']} ms, "
              f"duplicates {mob['duplicates']}; 50 % checked in after {_num(mob['minutes_to_50pct']['platform'])} simulated min "
              f"(simulation {_num(mob['minutes_to_50pct']['simulation'])}); claims {mob['claims'] or 'none'}")
    for t in result["thresholds"]:
        print(f"--fail-if {t['threshold']}: value {_num(t['value'])} → {'FAILED' if t['failed'] else 'ok'}")
    print(f"wrote {out / 'loadtest.json'} and {out / 'report.html'}")
    raise typer.Exit(code)


def register(app: typer.Typer) -> None:
    from twin.cli import ENGINEER

    app.command("loadtest", rich_help_panel=ENGINEER)(loadtest)
