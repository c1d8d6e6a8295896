"""The model's SimPy environment: ``simpy.Environment`` plus the two things the model reads
from SimPy's internals, owned here by a subclass (SimPy's extension point) instead of reached
into from outside.
"""

from __future__ import annotations

from collections.abc import Callable

import simpy


class ModelEnvironment(simpy.Environment):
    """A ``simpy.Environment`` (minutes) that hands the case engine its clock and counts events."""

    def epoch_clock(self, epoch: float) -> Callable[[], float]:
        """The engine's clock: minutes since the Unix epoch, ``epoch`` being minute 0 of the run.

        It reads the current time without the ``now`` property's call: the engine asks for the
        time at every transition (millions in a district-year)."""
        return lambda: epoch + self._now

    def events_processed(self) -> int:
        """Events processed so far (scheduled minus still queued).

        Reading SimPy's event-id counter takes one id from it; ids only order events scheduled
        for the same instant and priority, so the order of later events is unchanged."""
        scheduled = next(self._eid)
        return int(scheduled - len(self._queue))
