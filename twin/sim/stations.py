"""A station: any unit that handles cases one at a time per head — a simpy resource with a
working calendar and a tally of busy working minutes (for utilisation).

Grid-worker teams, community offices, command-centre dispatchers, boards (板块),
departments and volunteer pools are all stations; their agent classes live in ``agents/``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import mesa
import simpy

from twin.sim.calendar import WorkCalendar


class Slot:
    """A head taken without a queue: stands in the resource's ``users`` like a granted request."""

    __slots__ = ()
    triggered = True


class Station(mesa.Agent):
    """A Mesa agent owning a ``simpy.PriorityResource`` whose capacity is its head count on
    duty. Queued cases are taken up earliest due first (督办: an overdue case — red — before
    one close to its limit — yellow — before the rest), ties in order of arrival."""

    role: str = "station"
    level: int = 0

    def __init__(self, model: mesa.Model, env: simpy.Environment, name: str, capacity: int, calendar: WorkCalendar) -> None:
        super().__init__(model)
        self.name = name
        self.env = env
        self.res = simpy.PriorityResource(env, capacity=max(1, capacity))
        self.calendar = calendar
        self.busy = 0.0  # working minutes of effort done
        self.served = 0
        self.headcount = capacity  # may differ from res.capacity while people are away (issue 4)
        self.street = -1  # the street it belongs to (-1: the district level)

    @property
    def capacity(self) -> int:
        return self.res.capacity

    def set_capacity(self, n: int) -> None:
        """Change the heads on duty (mobilisation takes people away, demobilisation returns them).

        Cases being handled finish; queued cases start as soon as a head is free.
        """
        self.res._capacity = max(1, int(n))  # simpy keeps capacity read-only; this is its storage
        self.res._trigger_put(None)

    def acquire(self, granted: Callable[[Any], None], due: float = 0.0) -> Any:
        """Take a head: at once if one is free and nobody queues (no SimPy event needed),
        else through a ``Request`` that waits its turn (earliest ``due`` first); ``granted``
        is called on the grant.
        Returns the token to :meth:`release` (or to cancel while it is still queued)."""
        res = self.res
        if len(res.users) < res._capacity and not res.put_queue:
            slot = Slot()
            res.users.append(slot)
            granted(None)
            return slot
        req = res.request(priority=due)
        req.callbacks.append(granted)
        return req

    def release(self, token: Any) -> None:
        """Give the head back; the next queued request (if any) is granted."""
        res = self.res
        res.users.remove(token)
        if res.put_queue:
            res._trigger_put(None)

    def available_minutes(self, until: float) -> float:
        """Head-minutes of working time from minute 0 to ``until``."""
        return self.res.capacity * self.calendar.worked_between(0.0, until)
