"""Mobilised members (下沉党员 / 下沉干部) and the teams they form in the communities.

:class:`Members` holds the roster as arrays (one entry per person: home unit, role,
residence registration, destination community, state) like the residents; the mode
controller's component moves people between states. :class:`EmergencyTeam` is one team in
one community — an automatic team of mobilised members (保供 supply, patrol, transport,
checks …) or the community's duty desk (值班) — answering emergency cases and vulnerable-
resident checks; its capacity is the share of its members on site who are on duty.
"""

from __future__ import annotations

from dataclasses import dataclass

import mesa
import numpy as np

#: Member states (ON_CALL: sent for one case in normal mode, 有呼必应、因事派人).
HOME, EN_ROUTE, ON_SITE, RETURNING, ON_CALL = 0, 1, 2, 3, 4
STATE_NAMES: tuple[str, ...] = ("home", "en_route", "on_site", "returning", "on_call")


@dataclass
class UnitInfo:
    """A unit on the roster after expansion (a per-street office becomes one unit per street)."""

    name: str
    kind: str
    street: int | None
    staff: int
    station_refs: list[str]
    away: int = 0  # staff notified and not yet back


class Members(mesa.Agent):
    """Everyone on the roster, vectorised."""

    def __init__(
        self, model: mesa.Model, unit: np.ndarray, role: np.ndarray, residence: np.ndarray, destination: np.ndarray
    ) -> None:
        super().__init__(model)
        n = unit.size
        self.unit = unit  # index into the expanded unit list
        self.role = role  # index into twin.modes.ROLES
        self.residence = residence  # community index of the 双报到 registration, -1 if none
        self.destination = destination  # community they go down to, -1 if always exempt
        self.state = np.full(n, HOME, dtype=np.int8)
        self.token = np.zeros(n, dtype=np.int64)  # invalidates pending arrivals / returns
        self.team = np.full(n, -1, dtype=np.int64)  # team agent index while mobilised
        self.ever_mobilised = np.zeros(n, dtype=bool)
        self.mobilised_in: list[set[str]] = [set() for _ in range(n)]  # modes in which each was called

    def __len__(self) -> int:
        return int(self.unit.size)

    def on_site(self) -> int:
        return int((self.state == ON_SITE).sum())

    def en_route(self) -> int:
        return int((self.state == EN_ROUTE).sum())


class EmergencyTeam(mesa.Agent):
    """A team in one community; ``kinds`` are the job kinds it takes, in its order of priority."""

    def __init__(
        self,
        model: mesa.Model,
        name: str,
        community: int,
        team: str,
        kinds: list[int],
        fixed: int | None,
        on_duty_share: float,
    ) -> None:
        super().__init__(model)
        self.name = name
        self.community = community
        self.team = team
        self.kinds = kinds
        self.fixed = fixed  # a duty desk's fixed head count; None for mobilised teams
        self.on_duty_share = on_duty_share
        self.assigned = 0  # members en route or on site
        self.on_site = 0
        self.busy = 0
        self.served = 0
        self.busy_minutes = 0.0

    @property
    def capacity(self) -> int:
        """Heads on duty now: a desk's fixed staff, or the on-duty share of members on site (≥ 1 if any)."""
        if self.fixed is not None:
            return self.fixed
        if self.on_site <= 0:
            return 0
        return max(1, int(self.on_site * self.on_duty_share))

    @property
    def free(self) -> bool:
        return self.busy < self.capacity
