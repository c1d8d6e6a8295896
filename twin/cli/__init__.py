"""The ``twin`` command: one Typer app, one module per sub-command family.

Each family lives in its own module (``twin.cli.<name>``) and registers its commands on
:data:`app` through ``register(app)``; adding a family is one line in :data:`FAMILIES`.
"""

from __future__ import annotations

import importlib

import typer

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
)

#: Modules under twin.cli that register commands.
FAMILIES: tuple[str, ...] = ("demo", "serve", "study", "run", "loadtest", "drill")


@app.callback()
def _root() -> None:
    """gridtwin command line."""


def _load() -> None:
    for name in FAMILIES:
        importlib.import_module(f"twin.cli.{name}").register(app)


def main() -> None:
    _load()
    app()
