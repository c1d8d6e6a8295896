"""What ``twin loadtest`` and ``twin capacity`` share: the options of the ``twin serve`` they
start, the checks of the outputs they write, and how a run's failure is answered.

Both drive load at a started service and write a directory of results; keeping these in one
place keeps their flags, their one-line errors (exit 2 for bad input, 130 for Ctrl-C) and the
recorded command line alike.
"""

from __future__ import annotations

import shlex
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import typer

from twin.cli import checks

T = TypeVar("T")

#: ``--serve-workers``: worker processes of the ``twin serve`` the command starts.
SERVE_WORKERS: Any = typer.Option(1, "--serve-workers", min=1, help="Worker processes of the started twin serve.")


def db_option(postgres: str) -> Any:
    """``--db``: the database of the started ``twin serve``; ``postgres`` says what a PostgreSQL one must be."""
    return typer.Option(
        None, "--db",
        help=f"Database of the started twin serve: postgresql://… ({postgres}) or a SQLite path (default: OUT/service.db, made afresh).",
    )


def check_outputs(out: Path, db: str | None) -> None:
    """``--out`` can be a directory of results; ``--db``, when given, is a durable database that answers."""
    checks.out_dir(out)
    if db is not None:
        checks.database(db, memory_ok=False)


def command_line(name: str) -> str:
    """The command as typed (recorded with the results, to run it again)."""
    return f"twin {name} " + " ".join(shlex.quote(a) for a in sys.argv[2:])


def run_logged(run: Callable[[Callable[[str], None]], T]) -> T:
    """``run(log)`` with ``log`` printing to stderr; a scenario, plan or value error is one
    line and exit 2, Ctrl-C exit 130 (the run stops every process it started)."""
    from rich.console import Console

    from twin.loadtest.schedule import PlanError
    from twin.scenario import ScenarioError

    console = Console(stderr=True)
    try:
        return run(lambda m: console.print(m, markup=False, highlight=False))
    except (ScenarioError, PlanError, ValueError) as e:
        console.print(f"error: {e}", markup=False, highlight=False)
        raise typer.Exit(2) from None
    except KeyboardInterrupt:
        raise checks.Interrupted("every process started was stopped") from None
