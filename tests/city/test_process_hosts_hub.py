"""Process hosts around a hub (the last partition, in this process, the others' only
correspondent): a child may run a window ahead of the others, and every partition still gets
the inboxes lockstep gives — the same results as inline hosts, bit for bit."""

from __future__ import annotations

from functools import partial
from typing import Any

import pytest

from tests.city.test_partition_hosts import _echo
from twin.coupling.protocol import SHARED, Handover
from twin.executors import InlineHosts, PartitionFailed, ProcessHosts, run_lockstep


class Spoke:
    """A toy partition around a hub: each window it sends the hub (``SHARED``) what it heard;
    the hub answers every spoke, with a payload large enough now and then to exceed the
    hosts' BIG_MESSAGE (the path where an answer is read before the next window goes out)."""

    lookahead = 30.0

    def __init__(self, k: int, n: int) -> None:
        self.k, self.n, self.seen = k, n, []

    def advance(self, until: float, inbox: Any) -> list[Any]:
        self.seen += [(until, h.payload[:2]) for h in inbox]
        if self.k < self.n - 1:
            return [Handover(until, SHARED, "report", (self.k, until, len(inbox)))]
        pad = "x" * (100_000 if int(until) % 150 == 0 else 0)
        return [Handover(until, k, "mode", (len(self.seen), until, pad)) for k in range(self.n - 1)]

    def finish(self) -> list[Any]:
        return self.seen


def _spoke(k: int, n: int) -> Spoke:
    return Spoke(k, n)


def test_hub_run_equals_inline() -> None:
    n = 3
    factories = [partial(_spoke, k, n) for k in range(n)]
    inline = run_lockstep(InlineHosts(factories), 600.0)
    hosts = ProcessHosts(factories, here=1, hub=True)
    try:
        around_hub = run_lockstep(hosts, 600.0)
    finally:
        hosts.close()
    assert around_hub == inline
    assert inline[0][0] == (60.0, (0, 30.0))  # the hub's answer to window 1 arrives in window 2
    assert inline[2][-1] == (600.0, (1, 570.0))  # the hub hears from both spokes every window
    assert len(inline[2]) == 2 * (600 // 30 - 1)


def test_a_child_writing_to_another_child_is_refused_with_a_hub() -> None:
    n = 3  # Echo: partition 0 sends to partition 1, which is not the hub
    hosts = ProcessHosts([partial(_echo, k, n) for k in range(n)], here=1, hub=True)
    try:
        with pytest.raises(PartitionFailed, match="partition 0 sent a handover to partition 1"):
            run_lockstep(hosts, 300.0)
    finally:
        hosts.close()


def test_a_hub_is_the_last_partition_here() -> None:
    with pytest.raises(ValueError, match="hub"):
        ProcessHosts([partial(_spoke, k, 2) for k in range(2)], here=0, hub=True)


class Fails:
    """A toy partition that raises in its third window."""

    lookahead = 30.0

    def advance(self, until: float, inbox: Any) -> list[Any]:
        if until >= 90.0:
            raise RuntimeError("a street partition broke")
        return []

    def finish(self) -> None:
        return None


def _fails_or_spoke(k: int, n: int) -> Any:
    return Fails() if k == 0 else Spoke(k, n)


def test_a_failing_child_is_reported_with_its_traceback() -> None:
    hosts = ProcessHosts([partial(_fails_or_spoke, k, 3) for k in range(3)], here=1, hub=True)
    try:
        with pytest.raises(PartitionFailed, match="a street partition broke"):
            run_lockstep(hosts, 600.0)
    finally:
        hosts.close()
