"""Registered party members (双报到, Wuhan): in normal times they claim service items (认事).

Each community's active members form a volunteer pool (a station): an eligible case
(category in ``party_members.categories``) that reaches the community is claimed by a
member with ``claim_share``, who resolves it with service hours; the engine turns hours ×
rating coefficient into points at evaluation (一事一评). Their emergency duties
(应下尽下 / 全员下沉) belong to the mode controller.
"""

from __future__ import annotations

import mesa
import numpy as np
import simpy

from twin.sim.calendar import WorkCalendar
from twin.sim.stations import Station


class VolunteerPool(Station):
    """A community's active registered party members."""

    role = "volunteer"
    level = 1

    def __init__(
        self, model: mesa.Model, env: simpy.Environment, name: str, members: int, active_share: float, calendar: WorkCalendar
    ) -> None:
        super().__init__(model, env, name, max(1, int(round(members * active_share))), calendar)
        self.members = members

    def pick(self, u: float) -> str:
        """A pseudonymous member reference, chosen by a uniform draw."""
        return f"{self.name}-M{int(u * max(1, self.members)):05d}"


def members_per_community(party_per_grid: np.ndarray, grid_community: np.ndarray, n_communities: int) -> np.ndarray:
    return np.bincount(grid_community, weights=party_per_grid, minlength=n_communities)
