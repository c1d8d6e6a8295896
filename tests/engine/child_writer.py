"""A separate process writing to a shared SQLite file, for the cross-process and kill -9 tests.

Run as a script (not collected by pytest):

* ``child_writer.py report PATH KEY START`` — wait until wall time START, report one case with
  idempotency key KEY, print its id.
* ``child_writer.py lifecycles PATH SEED`` — walk cases through the whole loop forever, printing
  ``<case id> <version>`` after each commit returned (the parent kills it with SIGKILL).
"""

from __future__ import annotations

import os
import sys
import time

from twin.engine import CaseEngine, Place, SQLiteStore

PLACE = Place("G01", "C01", "S01", "D01")


def report(path: str, key: str, start: float) -> None:
    engine = CaseEngine(SQLiteStore(path), lambda: 0.0, id_factory=lambda: f"proc-{os.getpid()}")
    while time.time() < start:  # line the processes up
        time.sleep(0.001)
    c = engine.report(category="fire", tier="T0", place=PLACE, source="device", idempotency_key=key)
    print(c.id, flush=True)


def lifecycles(path: str, seed: str) -> None:
    now = [0.0]
    counter = iter(range(10**9))
    engine = CaseEngine(SQLiteStore(path), lambda: now[0], id_factory=lambda: f"{seed}-{next(counter):07d}")
    out = sys.stdout
    while True:
        c = engine.report(category="road", tier="T2", place=PLACE, source="patrol", reporter="r-1")
        out.write(f"{c.id} {c.version}\n")
        out.flush()
        for step in ("accept", "dispatch", "start", "resolve", "verify", "close", "evaluate"):
            now[0] += 1.0
            args: tuple[object, ...] = (["worker-1"],) if step == "dispatch" else (4,) if step == "evaluate" else ()
            c = getattr(engine, step)(c.id, c.version, "child", *args)
            out.write(f"{c.id} {c.version}\n")
            out.flush()


if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "report":
        report(sys.argv[2], sys.argv[3], float(sys.argv[4]))
    elif mode == "lifecycles":
        lifecycles(sys.argv[2], sys.argv[3])
    else:
        raise SystemExit(f"child_writer.py: unknown mode {mode!r}; expected 'report' or 'lifecycles'")
