"""The interface between partitions and whoever drives them (issue 18).

A run is a list of :class:`PartitionSim`: street partitions ``0 … P-1`` and, last, the shared
level (the district centre and the departments, simulated once). A driver advances every sim
through the same windows ``[t, t + lookahead)`` in lockstep and routes the :class:`Handover`
messages each returns to their receivers for the next window. It is conservative (YAWNS-style):
a message sent in a window is acted on no earlier than the window's end, because every
handover between the street and district levels takes at least ``lookahead`` minutes (the
time an escalated case takes to be signed for, a real platform rule — see the scenario's
``coupling.handover_minutes``), so no sim ever receives a message from its past.

The driver contract, the same for the inline driver (:func:`twin.coupling.lockstep.run_lockstep`),
local processes and Dask actors:

1. Build the sims from ``twin.coupling.sims.partition_sims(scenario, seed=None, days=None,
   keep_events=None, tables=True) -> list[Callable[[], PartitionSim]]`` (picklable factories,
   one per sim, the shared level last; call each in the process that will run it).
2. For each window end ``until`` of :func:`windows` (``horizon`` last): call
   ``sim.advance(until, inbox[k])`` on every sim ``k`` — in any order or in parallel; the
   result does not depend on it — then ``inbox = route(outboxes, len(sims))``.
3. After the last window call ``finish()`` on every sim (in its own process) and turn the
   model it returns into tables there (``twin.run``'s collector).

Messages left over after the last window act after the horizon and are dropped. Same
scenario, seed and partition count → the same messages in the same order, bit for bit.

A city (:mod:`twin.coupling.city`) adds one level above its districts' sims: the city's 12345
centre and operations centre, simulated once. Its rule differs in one point, and is still
conservative: **a sink that runs after its senders needs no upward lookahead.** The city level
advances *after* every district in each window and receives that window's messages in it (a
district draws a day's calls at the day's start, each due at or after the window's start — so
never in the city's past, although many fall within the window); everything the city sends
down is due at least ``handover_minutes`` after it happened (the district signs for an order,
or acts on a 督办, one handover later), so at or after the window's end, provided windows are
no longer than that handover. District-internal messages keep their partition-local ``to``
within the district; ``to = CITY`` (-2) goes up; the city addresses a district's sim by its
index among all the city's district sims.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from twin.model import DistrictModel

#: ``Handover.to`` of a message for the shared level (the last sim of a run).
SHARED = -1


@dataclass(frozen=True, slots=True)
class Handover:
    """One message between partitions (picklable and small: plain fields only).

    ``at``: the simulation minute at which the receiver acts on it (≥ the end of the sender's
    window); ``to``: the receiving partition's index, :data:`SHARED` for the shared level;
    ``kind``: ``"escalate"`` (a case reaching the district, street → shared), ``"outcome"``
    (what the district did to it, with the times it recorded, shared → street), ``"report"``
    (a partition's per-window figures for district-wide decisions, street → shared),
    ``"mode"`` (a district-wide decision, shared → street); ``payload``: plain values only.
    """

    at: float
    to: int
    kind: str
    payload: tuple  # type: ignore[type-arg]

    def __reduce__(self) -> tuple[type[Handover], tuple[float, int, str, tuple]]:  # type: ignore[type-arg]
        """Pickle as a constructor call: a frozen slots dataclass otherwise pickles through
        Python-level ``__getstate__``/``__setstate__`` (measured 2× slower per handover, and
        every handover crosses two pipes in a run on processes)."""
        return (Handover, (self.at, self.to, self.kind, self.payload))


class PartitionSim(Protocol):
    """One partition (a set of streets) or the shared level, advanced window by window."""

    #: Minutes; every window is this long (the last may be shorter). The same for all sims of a run.
    lookahead: float

    def advance(self, until: float, inbox: Sequence[Handover]) -> list[Handover]:
        """Simulate up to minute ``until``, acting on ``inbox`` (messages routed to this sim
        from the previous window) at their ``at``; return the messages sent meanwhile, each
        with ``at >= until``, in the order sent."""
        ...

    def finish(self) -> DistrictModel:
        """End the run (after the last window); the finished model, for ``twin.run``'s
        collector to turn into tables in the process that ran it."""
        ...


def windows(horizon: float, lookahead: float) -> Iterator[float]:
    """The window ends ``lookahead, 2·lookahead, …, horizon`` (computed as multiples, so that
    every driver gets bit-identical ends)."""
    if not lookahead > 0.0:
        raise ValueError(f"lookahead: expected minutes > 0, got {lookahead!r}")
    n = max(1, math.ceil(horizon / lookahead - 1e-9))
    for k in range(1, n):
        yield k * lookahead
    yield horizon


def route(outboxes: Sequence[Sequence[Handover]], n_sims: int) -> list[list[Handover]]:
    """Each sim's inbox for the next window from every sim's outbox of this one: messages in
    the order of the sending sim's index, then the order sent (:data:`SHARED` is the last sim).
    Receivers act on them in ``at`` order, ties in this order — deterministic whatever ran them."""
    inbox: list[list[Handover]] = [[] for _ in range(n_sims)]
    for out in outboxes:
        for h in out:
            inbox[h.to if h.to >= 0 else n_sims - 1].append(h)
    return inbox
