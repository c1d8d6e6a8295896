"""``twin demo``: walk a few cases through the whole closed loop and print the audit trail."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

from twin.engine import CaseEngine, MemoryStore, Place


def demo(cases: int = typer.Option(3, min=1, max=1000, help="How many cases to walk through the loop.")) -> None:
    """Report, accept, dispatch, handle, resolve, verify, close and evaluate a few cases."""
    now = [0.0]
    engine = CaseEngine(MemoryStore(), lambda: now[0])
    place = Place("G001", "C01", "S01", "D")
    console = Console()
    for i in range(cases):
        c = engine.report(category="environment", tier="T1", place=place, source="app", reporter=f"resident-{i}")
        for step, args in (
            ("accept", ()),
            ("dispatch", (["worker-G001"],)),
            ("start", ()),
            ("resolve", ()),
            ("verify", ()),
            ("close", ()),
            ("evaluate", (5,)),
        ):
            now[0] += 10.0
            c = getattr(engine, step)(c.id, c.version, "demo", *args)
        table = Table(title=f"case {c.id}")
        for col in ("v", "action", "from", "to", "minute"):
            table.add_column(col)
        for e in engine.history(c.id):
            table.add_row(str(e.version), e.action, str(e.from_state or "—"), e.to_state, f"{e.at:.0f}")
        console.print(table)
    console.print(engine.kpis())


def register(app: typer.Typer) -> None:
    from twin.cli import TOUR

    app.command("demo", rich_help_panel=TOUR)(demo)
