"""The live runner: advances a drill's model in wall time at an adjustable speed.

Speed is simulated minutes per wall second (1 = one simulated minute a second; 60 = an
hour a second). A background thread wakes every ``tick`` seconds and runs the model
forward by ``speed × elapsed``; pause, resume and speed changes are logged as actions.
When the horizon is reached the runner stops and calls ``on_finish`` once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from twin.drill.effects import DrillActionError
from twin.drill.session import DrillSession

MAX_SPEED = 1440.0  # a simulated day per second


class LiveRunner:
    """Paces one :class:`DrillSession` against the wall clock."""

    def __init__(
        self,
        session: DrillSession,
        speed: float = 1.0,
        tick: float = 0.1,
        on_finish: Callable[[], None] | None = None,
        wall: Callable[[], float] = time.monotonic,
    ) -> None:
        self.session = session
        self.speed = self._check(speed)
        self.tick = tick
        self.on_finish = on_finish
        self.wall = wall
        self.running = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last = wall()
        self._finished_called = False

    @staticmethod
    def _check(speed: float) -> float:
        s = float(speed)
        if not 0.0 < s <= MAX_SPEED:
            raise DrillActionError(f"speed: expected simulated minutes per second in (0, {MAX_SPEED:g}], got {speed}")
        return s

    # ------------------------------------------------------------------ control
    def start(self) -> None:
        """Go live (logged as ``start``) and start the pacing thread."""
        self.session.note("start", {"speed": self.speed, "at_min": self.session.now})
        self.running = True
        self._last = self.wall()
        self._thread = threading.Thread(target=self._loop, name="drill-runner", daemon=True)
        self._thread.start()

    def pause(self) -> None:
        with self.session.lock:
            self._catch_up()
            self.running = False
            self.session.note("pause")

    def resume(self) -> None:
        with self.session.lock:
            if self.session.finished or self.session.ended:
                raise DrillActionError("the drill has reached its end; nothing to resume")
            self._last = self.wall()
            self.running = True
            self.session.note("resume")

    def set_speed(self, speed: float) -> None:
        s = self._check(speed)
        with self.session.lock:
            self._catch_up()
            self.session.note("speed", {"from": self.speed, "to": s})
            self.speed = s

    def skip_ahead(self) -> None:
        """Jump to the next warning, response level or scripted inject; the clock runs on from there."""
        with self.session.lock:
            self._catch_up()
            self.session.skip_ahead()
            self._last = self.wall()

    def stop(self) -> None:
        """Stop the thread (the model stays where it is)."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=10.0)
        self.running = False

    # ------------------------------------------------------------------ pacing
    def _catch_up(self) -> None:
        now = self.wall()
        if self.running and not self.session.ended:
            self.session.advance(self.session.now + self.speed * (now - self._last))
        self._last = now

    def _loop(self) -> None:
        while not self._stop.wait(self.tick):
            with self.session.lock:
                if self.session.ended:
                    return
                self._catch_up()
                done = self.session.finished
                if done:
                    self.running = False
            if done and not self._finished_called:
                self._finished_called = True
                if self.on_finish is not None:
                    self.on_finish()
                return
