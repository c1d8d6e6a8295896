"""The ``twin`` command: one Typer app, one module per sub-command family.

Each family lives in its own module (``twin.cli.<name>``) and registers its commands on
:data:`app` through ``register(app)``; adding a family is one line in :data:`FAMILIES`.
Commands are listed in help under the user they serve (:data:`PANELS`).

:func:`run_cli` is the single place that turns failures into one line and an exit code:
bad input 2, an unavailable resource 1, Ctrl-C 130; a traceback only with ``--debug``.
"""

from __future__ import annotations

import importlib
import re
import sys
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import typer
from rich.markup import escape

from twin.cli.checks import ClickException, Interrupted, UsageError

app = typer.Typer(
    name="twin",
    help=(
        "gridtwin — a digital twin of grid governance (网格化管理): simulate a district's "
        "incidents through the case engine, serve the engine over HTTP, load-test it, "
        "sweep staffing and compare policies."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
)

#: Modules under twin.cli that register commands, in the order help lists them.
FAMILIES: tuple[str, ...] = ("run", "study", "serve", "loadtest", "capacity", "drill", "demo")

#: Help panels: who each group of commands is for.
PLANNER = "Planner and researcher: simulate, sweep, compare"
ENGINEER = "Engineer: serve the case engine, load-test a platform"
TRAINER = "Trainer: live drills"
TOUR = "First look"


def _version() -> str:
    try:
        return version("gridtwin")
    except PackageNotFoundError:  # running from a source tree without installing
        return "unknown"


def _print_version(value: bool) -> None:
    if value:
        print(f"twin (gridtwin) {_version()}")
        raise typer.Exit(0)


@app.callback()
def _root(
    _version_flag: bool = typer.Option(
        False, "--version", "-V", callback=_print_version, is_eager=True, help="Print the version and exit."
    ),
    _debug: bool = typer.Option(False, "--debug", help="Show the Python traceback of an unexpected error."),
) -> None:
    """gridtwin command line."""


def _load() -> None:
    for name in FAMILIES:
        importlib.import_module(f"twin.cli.{name}").register(app)


def _escape_help(cmd: Any) -> None:
    """Help texts are plain text: show ``[emergency]`` as written, not as Rich markup."""
    if cmd.help:
        cmd.help = escape(cmd.help)
    if cmd.short_help:
        cmd.short_help = escape(cmd.short_help)
    for p in cmd.params:
        if getattr(p, "help", None):
            p.help = escape(p.help)  # type: ignore[attr-defined]
    for sub in getattr(cmd, "commands", {}).values():
        _escape_help(sub)


def command() -> Any:
    """The ``twin`` click command with every family registered and help texts escaped."""
    if not app.registered_commands:
        _load()
    cmd = typer.main.get_command(app)
    _escape_help(cmd)
    return cmd


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _given(exc: Exception, argv: list[str]) -> str:
    """``, got VALUE`` for a bad option value when the message does not say what was given."""
    opts = getattr(getattr(exc, "param", None), "opts", None) or ()
    for i, arg in enumerate(argv):
        for opt in opts:
            if arg == opt and i + 1 < len(argv):
                value = argv[i + 1]
            elif arg.startswith(opt + "="):
                value = arg[len(opt) + 1 :]
            else:
                continue
            said = re.search(rf"(?<![\w.]){re.escape(value)}(?![\w.])", exc.format_message())  # type: ignore[attr-defined]
            return "" if said else f"; got {value}"
    return ""


def run_cli(argv: list[str]) -> int:
    """Run ``twin`` with ``argv``; return the exit code. Every failure is one line on stderr."""
    debug = "--debug" in argv
    try:
        rc = command().main(args=argv, prog_name="twin", standalone_mode=False)
    except Interrupted as exc:
        _say(f"interrupted: {exc.format_message()}")
        return exc.exit_code
    except ClickException as exc:
        where = exc.ctx.command_path if isinstance(exc, UsageError) and exc.ctx else "twin"
        hint = f" (see '{where} --help')" if isinstance(exc, UsageError) else ""
        _say(f"error: {exc.format_message()}{_given(exc, argv)}{hint}")
        return exc.exit_code
    except (typer.Abort, KeyboardInterrupt):
        _say("interrupted")
        return 130
    except Exception as exc:  # noqa: BLE001 — the last line of defence against a traceback
        if debug:
            raise
        if isinstance(exc, OSError) and exc.filename is not None:
            _say(f"error: {exc.filename}: {exc.strerror}")
        else:
            _say(f"error: {type(exc).__name__}: {exc} (unexpected; rerun with --debug for the traceback)")
        return 1
    if rc == 130:
        _say("interrupted")
    return rc if isinstance(rc, int) else 0


def main() -> None:
    sys.exit(run_cli(sys.argv[1:]))
