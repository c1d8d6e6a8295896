"""Process hosts that keep the last partition in this process (a coupled run's shared level)
route and finish exactly as inline hosts do."""

from __future__ import annotations

import os
from functools import partial

from tests.city.test_partition_hosts import _echo
from twin.executors import InlineHosts, ProcessHosts, run_lockstep


def _pid_of(k: int) -> object:
    """A toy partition that reports the process it finished in."""

    class Where:
        lookahead = 60.0

        def advance(self, until: float, inbox: object) -> list[object]:
            return []

        def finish(self) -> int:
            return os.getpid()

    return Where()


def test_last_partition_here_routes_like_inline() -> None:
    n = 3
    factories = [partial(_echo, k, n) for k in range(n)]
    inline = run_lockstep(InlineHosts(factories), 300.0)
    hosts = ProcessHosts(factories, here=1)
    try:
        assert hosts.describe() == "2 local processes and this process"
        mixed = run_lockstep(hosts, 300.0)
    finally:
        hosts.close()
    assert mixed == inline


def test_only_the_last_partition_runs_here() -> None:
    hosts = ProcessHosts([partial(_pid_of, k) for k in range(3)], here=1)
    try:
        pids = run_lockstep(hosts, 120.0)
    finally:
        hosts.close()
    assert pids[2] == os.getpid()
    assert os.getpid() not in pids[:2] and pids[0] != pids[1]
