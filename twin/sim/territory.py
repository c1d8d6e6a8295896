"""The territory as arrays: district → streets → communities → grids, and their households.

Grid sizes vary around the scenario's mean (capped by the ≤ 500-household rule); names
are stable strings (``S01``, ``S01-C03``, ``S01-C03-G04``) that the engine's places use.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from twin.engine import Place
from twin.scenario import Scenario


@dataclass(frozen=True)
class Territory:
    district: str
    street_names: list[str]
    community_names: list[str]
    grid_names: list[str]
    community_street: np.ndarray  # community → street index
    grid_community: np.ndarray  # grid → community index
    grid_street: np.ndarray  # grid → street index
    households: np.ndarray  # per grid
    residents: np.ndarray  # per grid (float: households × people per household)
    places: list[Place]  # one shared Place per grid

    @property
    def n_grids(self) -> int:
        return len(self.grid_names)

    @property
    def n_communities(self) -> int:
        return len(self.community_names)

    @property
    def n_streets(self) -> int:
        return len(self.street_names)

    @property
    def total_residents(self) -> float:
        return float(self.residents.sum())


def build_territory(sc: Scenario, rng: np.random.Generator) -> Territory:
    t = sc.territory
    n_st, n_co, n_gr = t.streets, t.communities_per_street, t.grids_per_community
    streets = [f"S{s + 1:02d}" for s in range(n_st)]
    communities = [f"{streets[s]}-C{c + 1:02d}" for s in range(n_st) for c in range(n_co)]
    n_comm = n_st * n_co
    if t.grids is None:
        per_comm = np.full(n_comm, n_gr)
    else:
        if t.grids < n_comm:
            raise ValueError(f"territory.grids: expected at least one grid per community ({n_comm}), got {t.grids}")
        base, extra = divmod(t.grids, n_comm)
        per_comm = np.full(n_comm, base) + (np.arange(n_comm) < extra)
    grids = [f"{communities[c]}-G{g + 1:02d}" for c in range(n_comm) for g in range(int(per_comm[c]))]
    community_street = np.repeat(np.arange(n_st), n_co)
    grid_community = np.repeat(np.arange(n_comm), per_comm)
    grid_street = community_street[grid_community]
    n = len(grids)
    if t.households_per_grid_cv > 0:
        s2 = np.log1p(t.households_per_grid_cv**2)
        hh = rng.lognormal(np.log(t.households_per_grid) - s2 / 2, np.sqrt(s2), n)
    else:
        hh = np.full(n, t.households_per_grid)
    households = np.clip(np.rint(hh), 1, t.max_households_per_grid).astype(np.int64)
    residents = households * t.people_per_household
    places = [
        Place(grids[g], communities[grid_community[g]], streets[grid_street[g]], t.district) for g in range(n)
    ]
    return Territory(
        district=t.district,
        street_names=streets,
        community_names=communities,
        grid_names=grids,
        community_street=community_street,
        grid_community=grid_community,
        grid_street=grid_street,
        households=households,
        residents=residents,
        places=places,
    )
