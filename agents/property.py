"""Property management companies (物业) of the compounds that have one.

In a managed compound the property company hears of matters in the common parts first —
residents' reports and the compound's sensors (Xiangyang's 山水家园: alerts go "to the
property company and the community"; what the community cannot settle goes on to the city
operations centre) — settles what is within its remit with its own staff and hours, and
hands what it cannot settle (disputes beyond mediation, repairs needing a department) into
the platform through the community (党员生活 2023-12-04). Compounds without a property
company (old quarters, resettlement estates such as Cuntan's) go straight to the grid.
"""

from __future__ import annotations

import numpy as np

from twin.sim.stations import Station


class PropertyCompany(Station):
    """One community's property-service staff on matters (repairs, cleaning, mediation)."""

    role = "property"
    level = 0


def managed_grids(n_grids: int, managed_share: float, rng: np.random.Generator) -> np.ndarray:
    """Which grids are compounds with a property company (a grid of ≤500 households is about
    one compound): each with probability ``managed_share``, from the property stream."""
    return rng.random(n_grids) < managed_share
