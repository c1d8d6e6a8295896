"""The inline driver: every sim of a run in this process, window by window (tests, one core)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from twin.coupling.protocol import PartitionSim, route, windows
from twin.model import DistrictModel
from twin.model.model import quiet_gc


def run_lockstep(
    sims: Sequence[PartitionSim], horizon: float, progress: Callable[[float], None] | None = None
) -> list[DistrictModel]:
    """Advance ``sims`` (street partitions, the shared level last) through the lookahead's
    windows up to ``horizon`` minutes, routing their handovers; the finished models.
    ``progress`` gets the simulated days done, once a simulated day."""
    n = len(sims)
    inbox: list[list[object]] = [[] for _ in range(n)]
    day = 0
    with quiet_gc():
        for until in windows(horizon, sims[0].lookahead):
            outs = [sim.advance(until, inbox[k]) for k, sim in enumerate(sims)]  # type: ignore[arg-type]
            inbox = route(outs, n)  # type: ignore[assignment]
            if progress is not None and until >= (day + 1) * 1440.0:
                day = int(until // 1440.0)
                progress(until / 1440.0)
    return [sim.finish() for sim in sims]
