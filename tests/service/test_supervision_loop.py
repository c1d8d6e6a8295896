"""Issue 12 in the service: the background loop of ``twin serve`` issues the yellow and red
warnings (督办) the model issues — on SQLite, with the engine's clock and the loop's monotonic
time injected (no sleeps): nothing before the yellow time, yellow at it, red once overdue, each
once per stint, and only on the loop's supervision rounds."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from twin.engine.types import Action, Place
from twin.service.app import ServiceConfig, build_service
from twin.service.times import SERVICE_TZ


def test_background_loop_warns_yellow_then_red_on_an_injected_clock(tmp_path: Path) -> None:
    svc = build_service(ServiceConfig(db=str(tmp_path / "loop.db"), group_commit=False, supervision_seconds=60.0))
    now = [datetime(2026, 12, 2, 9, 0, tzinfo=SERVICE_TZ).timestamp() / 60.0]  # a Wednesday morning
    svc.engine.clock = lambda: now[0]
    eng = svc.engine
    try:
        case = eng.report(category="environment", tier="T1", place=Place("G1", "C1", "S1", "D"), source="patrol", actor="gw")
        case = eng.accept(case.id, case.version, "gw")
        case = eng.dispatch(case.id, case.version, "cm", ["worker:gw"])
        yellow, red = eng.warning_at(case)
        assert yellow is not None and red is not None and now[0] < yellow < red

        def warning() -> int:
            got = eng.store.get(case.id)
            assert got is not None
            return got.warning

        svc.beat(0.0)  # the first supervision round is due within 5 s of the loop's start
        now[0] = yellow - 1.0
        svc.beat(10.0)  # a round: nothing due yet
        assert warning() == 0
        now[0] = yellow
        svc.beat(30.0)  # the yellow time has come, but the next round is at 70 s
        assert warning() == 0
        svc.beat(70.0)
        assert warning() == 1
        svc.beat(130.0)  # once per stint
        assert warning() == 1
        now[0] = red + 1.0
        svc.beat(190.0)
        assert warning() == 2
        colors = [e.data["color"] for e in eng.store.events(case.id) if e.action is Action.WARN]
        assert colors == ["yellow", "red"]
    finally:
        svc.engine.store.close()
        svc.sstore.close()
