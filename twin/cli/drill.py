"""``twin drill``: run a scenario live for a trainer, with a console page in the browser.

The page is a small FastAPI app on 127.0.0.1 (see :mod:`twin.drill.server`); the model
advances in wall time at ``--speed`` simulated minutes per second. Ending the drill (the
page's button, the end of the exercise, or Ctrl-C) writes the run directory with
``report.html``, the after-action report.
"""

from __future__ import annotations

import socket
import threading
import webbrowser
from pathlib import Path

import typer
from rich.console import Console

from twin.cli import checks

console = Console()


def drill(
    scenario: Path | None = typer.Argument(
        None, help="Scenario TOML with an [emergency] section (default: scenarios/flood.toml)."
    ),
    speed: float | None = typer.Option(
        None,
        "--speed",
        help="Simulated minutes per wall second (60 = an hour a second; default: the exercise fits ≈ 60 wall minutes).",
    ),
    port: int = typer.Option(8765, "--port", min=0, max=65535, help="Port on 127.0.0.1 (0: a free port chosen by the system)."),
    no_browser: bool = typer.Option(False, "--no-browser", help="Do not open the page in a browser."),
    script: Path | None = typer.Option(
        None, "--script", help="Drill script TOML ([drill] table; default: the scenario's own)."
    ),
    out: Path = typer.Option(
        Path("runs/drill"), "--out", help="Run directory for the log and the after-action report."
    ),
    until_day: float | None = typer.Option(
        None, "--until-day", min=0.01, help="End the exercise at this simulated day."
    ),
    seed: int | None = typer.Option(None, "--seed", min=0, help="Random seed, an integer ≥ 0 (default: run.seed of the scenario)."),
    team: str = typer.Option("", "--team", help="Name of the team drilling (shown on the page and in the report)."),
    sets: list[str] | None = typer.Option(
        None, "--set", help="Override a scenario field: dotted.path=value (repeatable)."
    ),
    exit_on_end: bool = typer.Option(False, "--exit-on-end", help="Stop serving once the report is written."),
) -> None:
    """Run a drill live: switch modes, inject incidents, send teams; get an after-action report."""
    import uvicorn

    from reports.drill_report import write_drill_report
    from twin.drill.effects import DrillActionError
    from twin.drill.runner import MAX_SPEED, LiveRunner
    from twin.drill.script import DrillScriptError, default_speed, load_drill
    from twin.drill.server import DrillConsole, create_app
    from twin.drill.session import DrillSession
    from twin.scenario import ScenarioError
    from twin.simtime import clock_text

    if speed is not None and not 0.0 < speed <= MAX_SPEED:
        console.print(
            f"--speed: expected simulated minutes per second in (0, {MAX_SPEED:g}], got {speed:g}", style="red"
        )
        raise typer.Exit(2)
    checks.out_dir(out)
    if port:
        checks.port_free("127.0.0.1", port)
    try:
        sc, spec, label = load_drill(scenario, sets or (), script)
        if until_day is not None:
            if spec.start_hours >= until_day * 24.0:
                raise DrillScriptError(
                    f"--until-day: expected a day after the script's start_hours ({spec.start_hours:g} h), got {until_day:g}"
                )
            spec = spec.model_copy(update={"until_day": until_day})
        session = DrillSession(sc, spec, seed=seed, team=team, label=f"{sc.meta.name} · {Path(label).name}")
        speed = min(MAX_SPEED, default_speed(sc, spec)) if speed is None else speed
    except (ScenarioError, DrillScriptError, DrillActionError) as exc:
        console.print(f"drill error: {exc}", soft_wrap=True, markup=False, style="red")
        raise typer.Exit(2) from None
    start = spec.start_hours * 60.0
    if start > 0:
        with console.status(f"fast-forwarding to {clock_text(session.scenario.run.start_date, start)} …"):
            session.advance(start)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(("127.0.0.1", port))
        sock.listen(128)  # listening before the URL is printed: early connections wait in the backlog
    except OSError as exc:
        sock.close()
        raise checks.Unavailable(f"--port {port}: cannot listen on 127.0.0.1:{port} ({exc.strerror}); try --port 0") from None
    url = f"http://127.0.0.1:{sock.getsockname()[1]}/"
    server: uvicorn.Server | None = None
    runner = LiveRunner(session, speed=speed)
    dc = DrillConsole(session, runner, out, live_from_min=session.now, on_record=write_drill_report)
    runner.on_finish = lambda: threading.Thread(target=dc.end, name="drill-end", daemon=True).start()

    def ended() -> None:
        console.print(f"after-action report: [bold]{dc.report}[/bold]")
        if exit_on_end and server is not None:
            server.should_exit = True

    dc.on_ended = ended
    server = uvicorn.Server(uvicorn.Config(create_app(dc), log_level="warning", access_log=False))
    wall_min = (session.horizon - session.now) / speed / 60.0
    console.print(
        f"drill console: {url}  ({session.label}, live from {clock_text(session.scenario.run.start_date, session.now)} "
        f"to {clock_text(session.scenario.run.start_date, session.horizon)}, {speed:g} simulated min/s ≈ {wall_min:.0f} wall minutes; "
        "Ctrl-C ends the drill)",
        soft_wrap=True,
        markup=False,
        highlight=False,
    )
    runner.start()
    if not no_browser:
        threading.Timer(0.5, lambda: webbrowser.open(url)).start()
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:  # uvicorn re-raises Ctrl-C after its graceful shutdown; the drill ends below
        pass
    finally:
        runner.stop()
        if dc.report is None:
            dc.end()
        sock.close()


def drill_compare(
    runs: list[Path] = typer.Argument(..., help="Drill run directories of the same exercise (one per team)."),
    out: Path = typer.Option(Path("runs/drill-compare.html"), "--out", help="HTML page to write."),
) -> None:
    """Compare teams that ran the same scripted drill: decisions and outcomes side by side."""
    from rich.table import Table

    from reports.drill_report import drill_compare_report
    from reports.html import format_cell
    from twin.drill.compare import DrillCompareError, compare_runs

    checks.out_file(out)
    try:
        cols, rows, teams = compare_runs(runs)
    except DrillCompareError as exc:
        console.print(f"drill-compare error: {exc}", soft_wrap=True, markup=False, style="red")
        raise typer.Exit(2) from None
    t = Table(*cols)
    for r in rows:
        t.add_row(*[format_cell(v) for v in r])
    console.print(t)
    drill_compare_report(cols, rows, teams).write(out)
    console.print(f"comparison: [bold]{out}[/bold]")


def register(app: typer.Typer) -> None:
    from twin.cli import TRAINER

    app.command("drill", rich_help_panel=TRAINER)(drill)
    app.command("drill-compare", rich_help_panel=TRAINER)(drill_compare)
