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


class Headcount(simpy.PriorityResource):
    """A ``simpy.PriorityResource`` whose capacity is the heads on duty, which may change while
    the run goes on — to 0 included (a station closed to new cases; cases in hand finish).

    SimPy's own extension point: a subclass owns the storage of ``capacity`` and calls
    ``_trigger_put`` after changing it, as ``BaseResource`` does after a release. It also
    takes a head without an event when one is free and nobody queues (:meth:`take`), the hot
    path of every case step.
    """

    def set_capacity(self, n: int) -> None:
        """Heads on duty from now on; queued requests are granted as heads become free."""
        self._capacity = n
        self._trigger_put(None)

    def take(self, granted: Callable[[Any], None], due: float = 0.0) -> Any:
        """A head at once (a :class:`Slot`, ``granted`` called now) if one is free and nobody
        queues, else a ``PriorityRequest`` (earliest ``due`` first) whose grant calls ``granted``."""
        if len(self.users) < self._capacity and not self.put_queue:
            slot = Slot()
            self.users.append(slot)  # type: ignore[arg-type]
            granted(None)
            return slot
        req = self.request(priority=due)  # type: ignore[arg-type]
        req.callbacks.append(granted)
        return req

    def give_back(self, token: Any) -> None:
        """Return a head taken by :meth:`take`; the next queued request (if any) is granted."""
        self.users.remove(token)
        if self.put_queue:
            self._trigger_put(None)


class Station(mesa.Agent):
    """A Mesa agent owning a :class:`Headcount` resource whose capacity is its head count on
    duty. Queued cases are taken up earliest due first (督办: an overdue case — red — before
    one close to its limit — yellow — before the rest), ties in order of arrival."""

    role: str = "station"
    level: int = 0
    #: Take a head for a case due at ``due`` (:meth:`Headcount.take`); returns the token to release.
    acquire: Callable[[Callable[[Any], None], float], Any]
    #: Give a head back (:meth:`Headcount.give_back`).
    release: Callable[[Any], None]

    def __init__(self, model: mesa.Model, env: simpy.Environment, name: str, capacity: int, calendar: WorkCalendar) -> None:
        super().__init__(model)
        self.name = name
        self.env = env
        self.res = Headcount(env, capacity=max(1, capacity))
        self.calendar = calendar
        self.busy = 0.0  # working minutes of effort done
        self.served = 0
        self.headcount = capacity  # may differ from res.capacity while people are away (mobilisation)
        self.street = -1  # the street it belongs to (-1: the district level)
        # the hot path calls the resource's methods directly (no extra frame per case step)
        self.acquire = self.res.take
        self.release = self.res.give_back

    @property
    def capacity(self) -> int:
        return int(self.res.capacity)

    def set_capacity(self, n: int, floor: int = 1) -> None:
        """Change the heads on duty (mobilisation takes people away, demobilisation returns them),
        keeping at least ``floor`` (0 closes the station to new cases).

        Cases being handled finish; queued cases start as soon as a head is free.
        """
        self.res.set_capacity(max(floor, int(n)))

    def available_minutes(self, until: float) -> float:
        """Head-minutes of working time from minute 0 to ``until``."""
        return self.res.capacity * self.calendar.worked_between(0.0, until)
