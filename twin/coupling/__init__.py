"""Exact coupling of street partitions and the shared district level (issue 18).

Street partitions and the shared level (the district centre and every department, simulated
once) exchange :class:`~twin.coupling.protocol.Handover` messages in conservative lockstep
windows whose length is the model's street↔district handover latency (the lookahead).
"""

from twin.coupling.protocol import SHARED, Handover, PartitionSim, route, windows

__all__ = ["SHARED", "Handover", "PartitionSim", "route", "windows"]
