"""kill -9: a child commits cases to SQLite and prints each id after its commit returned; the
parent SIGKILLs it at a random moment and reopens the file. Every printed commit is there, the
file passes PRAGMA integrity_check, and every case equals the fold of its audit log."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from twin.engine import SQLiteStore
from twin.engine.audit import verify_case

CHILD = Path(__file__).with_name("child_writer.py")


def _run_and_kill(path: Path, seed: str, after_s: float) -> list[tuple[str, int]]:
    """Start a writer, let it run ``after_s`` seconds past its first commit, SIGKILL it."""
    proc = subprocess.Popen(
        [sys.executable, str(CHILD), "lifecycles", str(path), seed],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    try:
        first = proc.stdout.readline()  # wait for the first acknowledged commit
        assert first, f"the writer died before committing: {proc.stderr.read() if proc.stderr else ''}"
        time.sleep(after_s)
        os.kill(proc.pid, signal.SIGKILL)
        rest, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL
    lines = [first, *rest.splitlines()]
    acked: list[tuple[str, int]] = []
    for line in lines:
        parts = line.split()
        if len(parts) == 2:  # a line cut by the kill is not an acknowledgement
            acked.append((parts[0], int(parts[1])))
    return acked


@pytest.mark.slow
def test_every_acknowledged_commit_survives_kill_9(tmp_path: Path) -> None:
    path = tmp_path / "durable.db"
    rng = np.random.default_rng(20251125)
    acked: dict[str, int] = {}
    for round_no in range(3):  # kill, reopen (WAL recovery), write on, kill again
        for case_id, version in _run_and_kill(path, f"r{round_no}", float(rng.uniform(0.2, 1.5))):
            acked[case_id] = max(version, acked.get(case_id, 0))
        store = SQLiteStore(path)
        try:
            assert store.integrity_check() == "ok"
            for case_id, version in acked.items():
                case = store.get(case_id)
                assert case is not None, f"acknowledged case {case_id} lost"
                assert case.version >= version, f"case {case_id}: acknowledged v{version}, stored v{case.version}"
            for case in store.all_cases():
                verify_case(case, store.events(case.id))
            assert store.event_count() == sum(c.version for c in store.all_cases())
        finally:
            store.close()
    assert len(acked) > 3, "the writer committed several cases before each kill"
