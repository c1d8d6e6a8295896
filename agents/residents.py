"""Residents, vectorised: households per grid as NumPy arrays, never one object per person.

Households carry attributes (elder living alone, disabled, key person, party member, app
user). Needs arise per grid and category as non-homogeneous Poisson processes (hour-of-day,
day-of-week and month profiles, times any surge multiplier); each need is reported by the
household through the app or the 12345 hotline — with a probability that moves with the
grid's trust — or stays latent until a patrol, a visit or a rider finds it. Satisfaction
with evaluated cases feeds back into each grid's trust.
"""

from __future__ import annotations

from dataclasses import dataclass

import mesa
import numpy as np

from twin.scenario import Scenario


@dataclass(frozen=True)
class NeedBatch:
    """Needs that arose in one day, as parallel arrays."""

    time: np.ndarray  # minute of arising
    grid: np.ndarray
    category: np.ndarray
    household: np.ndarray  # global household index


class Residents(mesa.Agent):
    """All residents of the territory, as per-household and per-grid arrays."""

    def __init__(self, model: mesa.Model, sc: Scenario, households: np.ndarray, rng: np.random.Generator) -> None:
        super().__init__(model)
        t = sc.territory
        self.gen = rng
        self.households_per_grid = households
        self.offsets = np.concatenate([[0], np.cumsum(households)[:-1]])
        n = int(households.sum())
        self.n_households = n
        self.elder_alone = rng.random(n) < t.elders_alone_share
        self.disabled = rng.random(n) < t.disabled_share
        self.key_person = rng.random(n) < t.key_people_share
        # a household has a registered party member with the chance that any of its members is one
        self.party_member = rng.random(n) < 1.0 - (1.0 - t.party_member_share) ** t.people_per_household
        self.app_user = rng.random(n) < t.app_user_share
        self.trust = np.full(len(households), sc.channels.trust_initial)
        self.trust_reference = sc.channels.trust_reference
        self.learning_rate = sc.channels.trust_learning_rate
        cats = list(sc.categories.values())
        self.rate = np.array([c.rate_per_1000 for c in cats]) / 1000.0
        self.hourly = np.array([np.asarray(c.hourly_profile) / np.mean(c.hourly_profile) for c in cats])  # (C, 24)
        self.weekly = np.array([np.asarray(c.weekly_profile) / np.mean(c.weekly_profile) for c in cats])  # (C, 7)
        self.monthly = np.array([np.asarray(c.monthly_profile) / np.mean(c.monthly_profile) for c in cats])  # (C, 12)
        self.report_prob = np.array([c.resident_report_prob for c in cats])
        self.hotline_share = sc.channels.hotline_share_non_app

    def elders_alone_per_grid(self) -> np.ndarray:
        grid_of = np.repeat(np.arange(len(self.households_per_grid)), self.households_per_grid)
        return np.bincount(grid_of, weights=self.elder_alone, minlength=len(self.households_per_grid))

    def party_members_per_grid(self) -> np.ndarray:
        grid_of = np.repeat(np.arange(len(self.households_per_grid)), self.households_per_grid)
        return np.bincount(grid_of, weights=self.party_member, minlength=len(self.households_per_grid))

    def needs(self, day: int, weekday: int, month: int, residents: np.ndarray, multiplier: np.ndarray) -> NeedBatch:
        """Needs arising on one day: Poisson counts per (grid, category, hour), times uniform in the hour.

        ``multiplier`` (grids × categories) carries surges and any other rate change.
        """
        base = residents[:, None] * self.rate[None, :] * self.weekly[:, weekday][None, :] * self.monthly[:, month][None, :]
        base = base * multiplier / 24.0  # (G, C) per hour at profile 1
        lam = base[:, :, None] * self.hourly[None, :, :]  # (G, C, 24)
        # draw only where the rate is positive (another partition's grids, night hours are 0):
        # a zero rate takes no random numbers, so the stream and the counts are those of the
        # whole array, in the same order
        flat = lam.ravel()
        pos = np.flatnonzero(flat)
        idx = np.repeat(pos, self.gen.poisson(flat[pos]))
        g, rest = np.divmod(idx, lam.shape[1] * 24)
        c, h = np.divmod(rest, 24)
        time = day * 1440.0 + (h + self.gen.random(idx.size)) * 60.0
        hh = self.offsets[g] + (self.gen.random(idx.size) * self.households_per_grid[g]).astype(np.int64)
        return NeedBatch(time=time, grid=g, category=c, household=hh)

    def report_choice(self, batch: NeedBatch) -> np.ndarray:
        """Channel chosen per need: 0 unreported (latent), 1 app, 2 hotline."""
        n = batch.time.size
        p = np.clip(self.report_prob[batch.category] * self.trust[batch.grid] / self.trust_reference, 0.0, 1.0)
        reports = self.gen.random(n) < p
        app = self.app_user[batch.household]
        hotline = ~app & (self.gen.random(n) < self.hotline_share)
        return np.where(reports & app, 1, np.where(reports & hotline, 2, 0))

    def learn(self, grids: np.ndarray, scores: np.ndarray) -> None:
        """Move each grid's trust toward the evaluations its residents just gave (score 1..5 → 0..1)."""
        if grids.size == 0:
            return
        n = np.bincount(grids, minlength=self.trust.size)
        s = np.bincount(grids, weights=(scores - 1.0) / 4.0, minlength=self.trust.size)
        keep = (1.0 - self.learning_rate) ** n
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.where(n > 0, s / np.maximum(n, 1), self.trust)
        self.trust = keep * self.trust + (1.0 - keep) * mean

    def complain(self, grids: np.ndarray, penalty: float) -> None:
        """A repeat complaint about an overdue case lowers its grid's trust."""
        if grids.size:
            np.subtract.at(self.trust, grids, penalty * self.learning_rate)
            np.clip(self.trust, 0.0, 1.0, out=self.trust)
