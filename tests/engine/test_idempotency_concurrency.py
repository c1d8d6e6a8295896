"""Idempotent reporting and optimistic concurrency, on both stores; with threads on both and
with processes sharing one SQLite file."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from twin.engine import (
    CaseEngine,
    IdempotencyConflict,
    MemoryStore,
    Place,
    SQLiteStore,
    State,
    Store,
    VersionConflict,
)
from twin.engine.audit import verify_case

from .helpers import PLACE, FakeClock, Rig, snapshot


def test_a_retry_with_the_same_payload_returns_the_original_case(rig: Rig) -> None:
    first = rig.report(source="device", description="smoke alarm 3F", idempotency_key="dev-42:seq-9")
    rig.clock.advance(5)
    again = rig.report(source="device", description="smoke alarm 3F", idempotency_key="dev-42:seq-9")
    assert again.id == first.id and again.reported_at == first.reported_at
    assert rig.store.count() == 1 and len(list(rig.store.events())) == 1


def test_the_same_key_with_another_payload_is_a_conflict(rig: Rig) -> None:
    first = rig.report(source="device", description="smoke alarm 3F", idempotency_key="dev-42:seq-9")
    with pytest.raises(IdempotencyConflict) as err:
        rig.report(source="device", description="smoke alarm 4F", idempotency_key="dev-42:seq-9")
    assert err.value.key == "dev-42:seq-9" and err.value.case_id == first.id
    assert "dev-42:seq-9" in str(err.value) and "different payload" in str(err.value)
    assert rig.store.count() == 1


def test_a_retry_after_the_case_moved_on_still_returns_it(rig: Rig) -> None:
    first = rig.walk(rig.report(idempotency_key="k"), "accept", "dispatch")
    again = rig.report(idempotency_key="k")
    assert again.id == first.id and again.state is State.DISPATCHED


def _race_reports(rig: Rig, n_threads: int) -> list[str]:
    barrier = threading.Barrier(n_threads)
    out: list[str] = []
    lock = threading.Lock()
    counter = iter(range(10_000))

    def fresh_id() -> str:
        with lock:
            return f"race-{next(counter)}"

    engine = CaseEngine(rig.store, rig.clock, id_factory=fresh_id)

    def work() -> None:
        barrier.wait()
        c = engine.report(category="fire", tier="T0", place=PLACE, source="device", idempotency_key="sensor-1:77")
        with lock:
            out.append(c.id)

    threads = [threading.Thread(target=work) for _ in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out


def test_concurrent_duplicates_in_threads_make_one_case(rig: Rig) -> None:
    ids = _race_reports(rig, 8)
    assert len(ids) == 8 and len(set(ids)) == 1
    assert rig.store.count() == 1 and len(list(rig.store.events())) == 1


CHILD = Path(__file__).with_name("child_writer.py")


def test_concurrent_duplicates_across_processes_make_one_case(tmp_path: Path) -> None:
    path = str(tmp_path / "shared.db")
    SQLiteStore(path).close()
    start = time.time() + 1.5
    keys = ["sensor-1:1"] * 4 + ["sensor-2:1"] * 4
    procs = [
        subprocess.Popen([sys.executable, str(CHILD), "report", path, k, str(start)], stdout=subprocess.PIPE, text=True)
        for k in keys
    ]
    try:
        ids = [p.communicate(timeout=60)[0].strip() for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    assert all(p.returncode == 0 for p in procs)
    assert len(set(ids[:4])) == 1 and len(set(ids[4:])) == 1 and ids[0] != ids[4] and all(ids)
    store = SQLiteStore(path)
    assert store.count() == 2 and store.event_count() == 2
    store.close()


def test_a_stale_version_never_loses_an_update(rig: Rig) -> None:
    c = rig.walk(rig.report(), "accept")
    v = c.version
    a = rig.engine.dispatch(c.id, v, "dispatcher-a", ["worker-a"])
    before = snapshot(rig, c.id)
    with pytest.raises(VersionConflict) as err:
        rig.engine.reject(c.id, v, "dispatcher-b", "duplicate")
    assert (err.value.case_id, err.value.expected, err.value.actual) == (c.id, v, v + 1)
    assert snapshot(rig, c.id) == before and rig.engine.get(c.id).assignees == a.assignees == ("worker-a",)


def _hammer(store: Store, clock: FakeClock, case_id: str, n_threads: int, per_thread: int) -> tuple[int, int]:
    """Threads race escalate/return on one case; returns (successes, conflicts)."""
    engine = CaseEngine(store, clock, auto_escalate=False)
    ok = conflicts = 0
    lock = threading.Lock()
    barrier = threading.Barrier(n_threads)

    def work(i: int) -> None:
        nonlocal ok, conflicts
        barrier.wait()
        done = 0
        while done < per_thread:
            c = engine.get(case_id)
            try:
                if c.level == 0 or (i % 2 and c.level < 3):
                    engine.escalate(case_id, c.version, f"t{i}")
                else:
                    engine.return_for_rework(case_id, c.version, f"t{i}")
            except VersionConflict:
                with lock:
                    conflicts += 1
                continue
            done += 1
            with lock:
                ok += 1

    threads = [threading.Thread(target=work, args=(i,)) for i in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return ok, conflicts


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_threads_racing_on_one_case_lose_no_update(kind: str, tmp_path: Path) -> None:
    clock = FakeClock()
    store: Store = MemoryStore() if kind == "memory" else SQLiteStore(tmp_path / "race.db")
    c = CaseEngine(store, clock, id_factory=lambda: "hot-case").report(
        category="c", tier="T3", place=Place("G", "C", "S", "D"), source="app"
    )
    ok, _ = _hammer(store, clock, c.id, n_threads=4, per_thread=15)
    final = store.get(c.id)
    assert final is not None and ok == 60
    assert final.version == 1 + ok, "every successful transition is in the version"
    events = list(store.events(c.id))
    assert [e.version for e in events] == list(range(1, ok + 2)), "one audit row per success, no gaps"
    verify_case(final, events)
    store.close()
