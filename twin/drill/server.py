"""The drill console over HTTP: one page and a small JSON API (FastAPI, 127.0.0.1 only).

``GET /`` is the page (:mod:`twin.drill.page`), which polls ``GET /api/state`` about twice
a second and posts the trainer's actions. Endpoints:

* ``GET /api/layout`` — the territory (streets → communities → grids), categories, modes;
* ``GET /api/state`` — clock, mode and history, KPIs, open/overdue cases per grid, markers, log;
* ``POST /api/control`` — ``{"action": "pause" | "resume" | "speed" | "skip", "speed": x}``
  (``skip``: on to the next warning, response level or scripted inject);
* ``POST /api/mode`` — ``{"to": mode, "confirm": true, "cause": "…"}`` (refused without confirm);
* ``POST /api/inject`` — ``{"what": "incident" | "surge", "place", "category", "count" | "per_hour", "hours"}``;
* ``POST /api/team`` — ``{"community", "size"}``; ``POST /api/marker`` — ``{"place", "note"}``;
* ``POST /api/end`` — ends the drill and writes the run directory; ``GET /report`` serves report.html.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from fastapi import FastAPI, HTTPException
from fastapi.responses import FileResponse, HTMLResponse
from pydantic import BaseModel, ConfigDict, Field

from twin.drill.effects import DrillActionError
from twin.drill.page import PAGE
from twin.drill.record import OnRecord, write_drill_dir
from twin.drill.runner import LiveRunner
from twin.drill.session import Action, DrillSession


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Control(_Body):
    action: Literal["pause", "resume", "speed", "skip"]
    speed: float | None = None


class ModeBody(_Body):
    to: str
    confirm: bool = False
    cause: str = ""


class InjectBody(_Body):
    what: Literal["incident", "surge"]
    place: str
    category: str
    count: int = Field(default=1, ge=1, le=500)
    per_hour: float | None = None
    hours: float | None = None


class TeamBody(_Body):
    community: str
    size: int = Field(ge=1, le=10_000)


class MarkerBody(_Body):
    place: str = ""
    note: str = Field(min_length=1, max_length=500)


class DrillConsole:
    """The session, its runner and the run directory; ends once (page, horizon or Ctrl-C)."""

    def __init__(
        self, session: DrillSession, runner: LiveRunner, out: Path, live_from_min: float, on_record: OnRecord | None = None
    ) -> None:
        self.session = session
        self.runner = runner
        self.out = Path(out)
        self.live_from_min = live_from_min
        self.on_record = on_record  # renders report.html into the run directory (the CLI's renderer)
        self.report: Path | None = None
        self.error: str = ""
        self._end_lock = threading.Lock()
        self.on_ended: Callable[[], None] | None = None

    def end(self) -> Path:
        """Stop the clock, run the baseline, write the run directory and hand it to ``on_record``
        (idempotent); returns the after-action report's path."""
        with self._end_lock:
            if self.report is None:
                self.runner.stop()
                self.report = write_drill_dir(self.session, self.out, self.live_from_min, self.on_record) / "report.html"
                if self.on_ended is not None:
                    self.on_ended()
            return self.report


def _result(a: Action) -> dict[str, Any]:
    if not a.ok:
        raise HTTPException(status_code=400, detail=a.error)
    return a.to_dict()


def create_app(console: DrillConsole) -> FastAPI:
    app = FastAPI(title="gridtwin drill console", docs_url=None, redoc_url=None)
    s = console.session
    r = console.runner

    def live() -> None:
        if s.ended:
            raise HTTPException(status_code=409, detail="the drill has ended; see the after-action report")

    @app.get("/", response_class=HTMLResponse)
    def page() -> str:
        return PAGE

    @app.get("/api/layout")
    def layout() -> dict[str, Any]:
        return s.layout()

    @app.get("/api/state")
    def state() -> dict[str, Any]:
        st = s.state()
        st["running"] = r.running
        st["speed"] = r.speed
        st["report"] = "/report" if console.report is not None else None
        return st

    @app.post("/api/control")
    def control(body: Control) -> dict[str, Any]:
        live()
        try:
            if body.action == "pause":
                r.pause()
            elif body.action == "resume":
                r.resume()
            elif body.action == "skip":
                r.skip_ahead()
            else:
                if body.speed is None:
                    raise DrillActionError("speed: expected simulated minutes per second")
                r.set_speed(body.speed)
        except DrillActionError as exc:
            raise HTTPException(status_code=400, detail=str(exc)) from None
        return {"running": r.running, "speed": r.speed}

    @app.post("/api/mode")
    def mode(body: ModeBody) -> dict[str, Any]:
        live()
        if not body.confirm:
            raise HTTPException(
                status_code=400, detail="a mode switch needs confirm: true (the page asks the trainer first)"
            )
        return _result(s.act("mode", {"to": body.to, **({"cause": body.cause} if body.cause else {})}))

    @app.post("/api/inject")
    def inject(body: InjectBody) -> dict[str, Any]:
        live()
        p: dict[str, Any] = {"place": body.place, "category": body.category}
        if body.what == "incident":
            p["count"] = body.count
        else:
            if body.per_hour is None or body.hours is None:
                raise HTTPException(status_code=400, detail="a surge needs per_hour and hours")
            p |= {"per_hour": body.per_hour, "hours": body.hours}
        return _result(s.act(body.what, p))

    @app.post("/api/team")
    def team(body: TeamBody) -> dict[str, Any]:
        live()
        return _result(s.act("team", {"community": body.community, "size": body.size}))

    @app.post("/api/marker")
    def marker(body: MarkerBody) -> dict[str, Any]:
        live()
        return _result(s.act("marker", {"place": body.place, "note": body.note}))

    @app.post("/api/end")
    def end() -> dict[str, Any]:
        path = console.end()
        return {"report": "/report", "path": str(path)}

    @app.get("/report")
    def report() -> FileResponse:
        if console.report is None:
            raise HTTPException(status_code=404, detail="the after-action report is written when the drill ends")
        return FileResponse(console.report, media_type="text/html")

    return app
