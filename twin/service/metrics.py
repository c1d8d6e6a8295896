"""``GET /metrics``: what this worker process is doing, for load tests and operators.

A load test that finds the service's knee must say what saturated first: the server's CPU
(``cpu_s`` deltas against wall time × workers), the group committer (its queue growing, its
batches' COMMIT getting slow, requests waiting long for a batch) or the front door (requests in
flight at the limit). Each worker process answers for itself (``pid``); a client that wants the
whole service asks until it has seen every worker. No authentication and no personal data: the
body holds counters and timings only.

Field meanings (the names are a contract: the load test codes against them):

- ``cpu_s`` — user + system CPU seconds of this process (all its threads) since it started;
- ``rss_mb`` — resident memory now, MiB;
- ``committer`` — the group commit (twin/service/groupcommit.py; zeros and nulls without it):
  ``queue_depth`` requests waiting for a committer now, ``queue_depth_max`` the most that were
  waiting when a batch began, ``batches`` transactions run, ``statements`` units of work run in
  them (each a savepoint: a request's whole work or one handed-over commit; ``statements /
  batches`` is the mean batch size), ``commit_ms_p50`` / ``commit_ms_p99`` the COMMIT's duration
  (the flush) over the last 2,048 batches, ``wait_ms_p99`` a request's wait from its queueing to
  its batch's start over the last 2,048 requests (null: no batch yet);
- ``requests`` — ``served`` requests this process answered since start (``/metrics`` included),
  ``in_flight`` being served now, ``refused`` answered 503 at the in-flight limit, ``fast_lane``
  answered by the fast lane (twin/service/fastpath.py; the rest went through FastAPI);
- ``db`` — ``"sqlite"`` or ``"postgresql"`` (``"memory"`` for the test-only in-memory store).
"""

from __future__ import annotations

import os
import resource
import time
from typing import Any

from twin.service.groupcommit import GroupCommitStore, percentile_ms
from twin.service.limits import ConcurrencyLimitMiddleware

_PAGE = os.sysconf("SC_PAGE_SIZE")


def rss_mb() -> float:
    """Resident memory of this process now, MiB (Linux ``/proc``; elsewhere the peak)."""
    try:
        with open("/proc/self/statm", "rb") as fh:
            return round(int(fh.read().split()[1]) * _PAGE / 2**20, 1)
    except (OSError, IndexError, ValueError):
        return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def db_kind(url: str) -> str:
    """``"postgresql"``, ``"sqlite"`` or ``"memory"`` for a service database URL."""
    if url.startswith(("postgresql://", "postgres://")):
        return "postgresql"
    return "memory" if url == "memory:" else "sqlite"


def committer_metrics(store: object) -> dict[str, Any]:
    """The group committer's figures (zeros and nulls when the store commits alone)."""
    if not isinstance(store, GroupCommitStore):
        return {"queue_depth": 0, "queue_depth_max": 0, "batches": 0, "statements": 0,
                "commit_ms_p50": None, "commit_ms_p99": None, "wait_ms_p99": None}
    s = store.stats
    return {
        "queue_depth": store.queue_depth(),
        "queue_depth_max": s.queue_depth_max,
        "batches": s.batches,
        "statements": s.statements,
        "commit_ms_p50": percentile_ms(s.commit_s, 0.50),
        "commit_ms_p99": percentile_ms(s.commit_s, 0.99),
        "wait_ms_p99": percentile_ms(s.wait_s, 0.99),
    }


def process_metrics(store: object, db_url: str, front: ConcurrencyLimitMiddleware | None, fast_lane: int = 0) -> dict[str, Any]:
    """The ``GET /metrics`` body of this process (see the module doc); ``fast_lane``: requests
    the fast lane answered."""
    return {
        "pid": os.getpid(),
        "cpu_s": round(time.process_time(), 3),
        "rss_mb": rss_mb(),
        "committer": committer_metrics(store),
        "requests": {
            "served": 0 if front is None else front.served,
            "in_flight": 0 if front is None else front.in_flight,
            "refused": 0 if front is None else front.refused,
            "fast_lane": fast_lane,
        },
        "db": db_kind(db_url),
    }
