"""Delivery riders' snapshot reports (随手拍) with points (Wuhan 江城小蜜蜂).

Riders are spread over the grids in proportion to residents. A latent public-space need on
a rider's beat is reported on a given day with a chance that grows with riders per grid and
with the incentive: ``sightings_per_rider_day × riders × points / (points + half_saturation)``.
Major public-security clues earn ``points_per_clue`` (100 in Wuhan), safety hazards
``points_per_hazard`` (50), other reports ``points_per_report``.
"""

from __future__ import annotations

import mesa
import numpy as np

from twin.scenario import Scenario


class RiderFleet(mesa.Agent):
    """All riders, vectorised: riders per grid, points earned per rider."""

    def __init__(self, model: mesa.Model, sc: Scenario, residents: np.ndarray, categories: list[str]) -> None:
        super().__init__(model)
        r = sc.riders
        self.count = r.count
        self.per_grid = r.count * residents / residents.sum()
        self.first_rider = np.floor(np.concatenate([[0.0], np.cumsum(self.per_grid)[:-1]])).astype(np.int64)
        response = r.points_per_report / (r.points_per_report + r.half_saturation_points)
        self.daily_rate = r.sightings_per_rider_day * response
        cats = list(sc.categories.values())
        self.public = np.array([c.public_space for c in cats])
        self.hazard = np.array([name in r.hazard_categories for name in categories])
        self.points_per_report = r.points_per_report
        self.points_per_hazard = r.points_per_hazard
        self.clue = np.array([name in r.clue_categories for name in categories])
        self.points_per_clue = r.points_per_clue
        self.points = np.zeros(max(1, r.count))
        self.reports = 0

    def report_prob(self) -> np.ndarray:
        """(grids × categories) chance that a latent need is reported by a rider today."""
        p = 1.0 - np.exp(-self.daily_rate * self.per_grid)
        return p[:, None] * self.public[None, :]

    def credit(self, rng: np.random.Generator, grids: np.ndarray, cats: np.ndarray) -> np.ndarray:
        """Award points for the day's reports; return the reporting rider per report."""
        if grids.size == 0 or self.count == 0:
            return np.full(grids.size, -1, dtype=np.int64)
        span = np.maximum(1, np.ceil(self.per_grid[grids]).astype(np.int64))
        rider = np.minimum(self.first_rider[grids] + (rng.random(grids.size) * span).astype(np.int64), self.count - 1)
        pts = np.where(self.clue[cats], self.points_per_clue, np.where(self.hazard[cats], self.points_per_hazard, self.points_per_report))
        np.add.at(self.points, rider, pts)
        self.reports += int(grids.size)
        return rider
