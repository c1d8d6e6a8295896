"""Case-engine throughput: full lifecycles (report → accept → dispatch → start → resolve →
verify → close → evaluate, 8 transitions per case) on the memory store and on SQLite.

Prints transitions per second for

* memory — MemoryStore keeping the whole audit log, deterministic ids (as the simulation runs it);
* SQLite, one transaction per transition (WAL, synchronous=FULL: each commit is durable);
* SQLite, batched — group commit: the same step of ``--group`` cases in one transaction;
* raw SQLite inserts — one small row per transaction with the same file settings, measured in
  the same run: the ceiling the one-transaction-per-transition figure is compared with.

Each figure is the best of ``--repeat`` runs of wall time (the least disturbed by other load
on the machine); CPU-time rates are printed beside them. The last line of output is a JSON
object of the four headline figures. Nothing is asserted: this measures.

    python benchmarks/engine_throughput.py [--cases 20000] [--sqlite-cases 300] [--group 64] [--repeat 3]
"""

from __future__ import annotations

import argparse
import gc
import itertools
import json
import os
import sqlite3
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from twin.engine import Case, CaseEngine, MemoryStore, Place, SQLiteStore, Store

STEPS = ("accept", "dispatch", "start", "resolve", "verify", "close", "evaluate")
TRANSITIONS_PER_CASE = 1 + len(STEPS)
PLACE = Place("G0001", "C01", "S01", "D01")


class Clock:
    """The injected clock: one minute per transition."""

    def __init__(self) -> None:
        self.now = 29_000_000.0

    def __call__(self) -> float:
        self.now += 1.0
        return self.now


def _step(engine: CaseEngine, case: Case, step: str) -> Case:
    if step == "dispatch":
        return engine.dispatch(case.id, case.version, "dispatcher", ["worker-1"])
    if step == "evaluate":
        return engine.evaluate(case.id, case.version, "resident", 5)
    method: Callable[[str, int, str], Case] = getattr(engine, step)
    return method(case.id, case.version, "handler")


def lifecycles_one_by_one(engine: CaseEngine, n: int) -> None:
    for _ in range(n):
        c = engine.report(category="environment", tier="T2", place=PLACE, source="app", reporter="r-1")
        for step in STEPS:
            c = _step(engine, c, step)


def lifecycles_grouped(engine: CaseEngine, store: Store, n: int, group: int) -> None:
    for start in range(0, n, group):
        k = min(group, n - start)
        with store.batch():
            cases = [
                engine.report(category="environment", tier="T2", place=PLACE, source="app", reporter="r-1")
                for _ in range(k)
            ]
        for step in STEPS:
            with store.batch():
                cases = [_step(engine, c, step) for c in cases]


def timed(fn: Callable[[], None]) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one call."""
    w, c = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - w, time.process_time() - c


def counter_ids() -> Callable[[], str]:
    counter = itertools.count()
    return lambda: f"case-{next(counter):09d}"


def bench_memory(n: int, keep_events: bool = True, ids: Callable[[], str] | None = None) -> tuple[float, float]:
    engine = CaseEngine(MemoryStore(keep_events=keep_events), Clock(), id_factory=ids or counter_ids())
    wall, cpu = timed(lambda: lifecycles_one_by_one(engine, n))
    return n * TRANSITIONS_PER_CASE / wall, n * TRANSITIONS_PER_CASE / cpu


def bench_memory_gc_tuned(n: int) -> tuple[float, float]:
    """The same, with CPython's young-generation GC threshold raised (a process-wide knob the
    simulation may turn; the engine itself never touches it)."""
    old = gc.get_threshold()
    gc.set_threshold(50_000, old[1], old[2])
    try:
        return bench_memory(n)
    finally:
        gc.set_threshold(*old)


def bench_sqlite(workdir: Path, n: int, group: int | None, synchronous: str) -> tuple[float, float]:
    path = workdir / f"engine-{uuid.uuid4().hex}.db"
    store = SQLiteStore(path, synchronous=synchronous)
    engine = CaseEngine(store, Clock(), id_factory=lambda: uuid.uuid4().hex)
    if group is None:
        wall, cpu = timed(lambda: lifecycles_one_by_one(engine, n))
    else:
        wall, cpu = timed(lambda: lifecycles_grouped(engine, store, n, group))
    assert store.event_count() == n * TRANSITIONS_PER_CASE
    store.close()
    _remove(path)
    return n * TRANSITIONS_PER_CASE / wall, n * TRANSITIONS_PER_CASE / cpu


def bench_raw_inserts(workdir: Path, n: int, group: int, synchronous: str) -> tuple[float, float]:
    """Plain INSERTs of one small row, in the same file settings as SQLiteStore."""
    path = workdir / f"raw-{uuid.uuid4().hex}.db"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute(f"PRAGMA synchronous = {synchronous}")
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, k TEXT NOT NULL, v TEXT NOT NULL)")
    row = ("key", "x" * 64)

    def run() -> None:
        for i in range(0, n, group):
            conn.execute("BEGIN IMMEDIATE")
            for _ in range(min(group, n - i)):
                conn.execute("INSERT INTO t (k, v) VALUES (?, ?)", row)
            conn.execute("COMMIT")

    wall, cpu = timed(run)
    conn.close()
    _remove(path)
    return n / wall, n / cpu


def _remove(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        p = Path(str(path) + suffix)
        if p.exists():
            p.unlink()


def best(runs: list[tuple[float, float]]) -> tuple[float, float]:
    return max(r[0] for r in runs), max(r[1] for r in runs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cases", type=int, default=20_000, help="lifecycles on the memory store per run")
    ap.add_argument("--sqlite-cases", type=int, default=300, help="lifecycles on SQLite per run")
    ap.add_argument("--group", type=int, default=64, help="transitions per transaction when batched")
    ap.add_argument("--repeat", type=int, default=3, help="runs per figure; the best is reported")
    ap.add_argument("--synchronous", default="FULL", help="SQLite synchronous setting (default FULL)")
    ap.add_argument("--dir", default=None, help="where the SQLite files go (default: a temporary directory)")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="engine-bench-", dir=args.dir) as tmp:
        workdir = Path(tmp)
        n_sql = args.sqlite_cases * TRANSITIONS_PER_CASE
        print(f"# engine throughput: {TRANSITIONS_PER_CASE} transitions per lifecycle, best of {args.repeat} runs")
        print(f"# load average at start: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
        mem = best([bench_memory(args.cases) for _ in range(args.repeat)])
        print(f"memory (audit kept, counter ids):    {mem[0]:>11,.0f} transitions/s  (CPU time: {mem[1]:,.0f}/s)")
        tuned = best([bench_memory_gc_tuned(args.cases) for _ in range(args.repeat)])
        print(f"memory (audit kept, gc gen0 50,000):  {tuned[0]:>11,.0f} transitions/s  (CPU time: {tuned[1]:,.0f}/s)")
        lean = best([bench_memory(args.cases, keep_events=False) for _ in range(args.repeat)])
        print(f"memory (keep_events=False):          {lean[0]:>11,.0f} transitions/s  (CPU time: {lean[1]:,.0f}/s)")
        u4 = best([bench_memory(args.cases, ids=lambda: str(uuid.uuid4())) for _ in range(args.repeat)])
        print(f"memory (audit kept, uuid4 ids):      {u4[0]:>11,.0f} transitions/s  (CPU time: {u4[1]:,.0f}/s)")
        raw = best([bench_raw_inserts(workdir, n_sql, 1, args.synchronous) for _ in range(args.repeat)])
        print(f"raw SQLite inserts, 1 per tx:        {raw[0]:>11,.0f} inserts/s")
        sql = best([bench_sqlite(workdir, args.sqlite_cases, None, args.synchronous) for _ in range(args.repeat)])
        print(
            f"SQLite, 1 transaction/transition:    {sql[0]:>11,.0f} transitions/s  ({raw[0] / sql[0]:.2f}x below raw)"
        )
        raw_b = best([bench_raw_inserts(workdir, n_sql * 4, args.group, args.synchronous) for _ in range(args.repeat)])
        print(f"raw SQLite inserts, {args.group} per tx:       {raw_b[0]:>11,.0f} inserts/s")
        sql_b = best(
            [bench_sqlite(workdir, args.sqlite_cases * 4, args.group, args.synchronous) for _ in range(args.repeat)]
        )
        print(
            f"SQLite, batched ({args.group} per tx):        {sql_b[0]:>11,.0f} transitions/s  "
            f"({raw_b[0] / sql_b[0]:.2f}x below raw batched; CPU time: {sql_b[1]:,.0f}/s)"
        )
        print(f"# synchronous={args.synchronous.upper()}, WAL; files in {workdir}")
    print(
        json.dumps(
            {
                "memory_transitions_per_s": round(mem[0]),
                "sqlite_transitions_per_s": round(sql[0]),
                "sqlite_batched_transitions_per_s": round(sql_b[0]),
                "sqlite_raw_inserts_per_s": round(raw[0]),
            }
        )
    )


if __name__ == "__main__":
    main()
