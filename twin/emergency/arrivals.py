"""Emergency incidents (tier E): waterlogging, trapped people, supply requests, medical escorts …

Arrivals are a non-homogeneous Poisson process per category: a rate per 1,000 residents
per day in each time window, shaped by the hour of day (thinning), spread over the grids of
the category's area by population. Everything — times, grids, channels, travel and effort
— is drawn up front from the component's own stream, so the same seed gives the same
emergency whether or not the mode is switched (common random numbers).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from twin.scenario.emergency import Emergency


@dataclass
class Arrivals:
    time: np.ndarray  # minutes from the run's start
    grid: np.ndarray
    category: np.ndarray  # index into the emergency categories
    app: np.ndarray  # reported through the app (else the hotline)
    travel: np.ndarray
    effort: np.ndarray

    def __len__(self) -> int:
        return int(self.time.size)

    def subset(self, grids: np.ndarray) -> Arrivals:
        """The arrivals at the grids ``grids`` marks (a boolean mask), in time order — a street
        partition's share of the territory's emergency (twin.coupling)."""
        if grids.all():
            return self
        return self.rows(grids[self.grid])

    def rows(self, keep: np.ndarray) -> Arrivals:
        """The arrivals ``keep`` marks (a boolean mask over them), in time order."""
        return Arrivals(self.time[keep], self.grid[keep], self.category[keep], self.app[keep], self.travel[keep], self.effort[keep])


def generate(
    em: Emergency,
    grid_residents: np.ndarray,
    grid_mask_of: dict[str, np.ndarray],
    horizon: float,
    rng: np.random.Generator,
) -> Arrivals:
    """All of the run's emergency arrivals (sorted by time); ``grid_mask_of[category]`` is its area."""
    parts: list[dict[str, np.ndarray]] = []
    for ci, (name, cat) in enumerate(em.categories.items()):
        mask = grid_mask_of[name]
        res = np.where(mask, grid_residents, 0.0)
        total = float(res.sum())
        prof = np.asarray(cat.hourly_profile, dtype=float)
        accept = prof / prof.max()
        peak = prof.max() / prof.mean()
        for w in cat.windows:
            a, b = w.start_hours * 60.0, min(w.end_hours * 60.0, horizon)
            if b <= a or total <= 0 or w.rate_per_1000_per_day <= 0:
                continue
            lam = w.rate_per_1000_per_day / 1000.0 * total / 1440.0 * peak  # per minute, before thinning
            n = int(rng.poisson(lam * (b - a)))
            t = a + rng.random(n) * (b - a)
            keep = rng.random(n) < accept[((t // 60.0) % 24).astype(np.int64)]
            t = t[keep]
            g = rng.choice(res.size, size=t.size, p=res / total)
            parts.append(
                {
                    "time": t,
                    "grid": g,
                    "category": np.full(t.size, ci, dtype=np.int64),
                    "app": rng.random(t.size) < cat.app_share,
                    "travel": em.travel_minutes.sample(rng, t.size),
                    "effort": cat.effort_minutes.sample(rng, t.size),
                }
            )
    if not parts:
        e = np.empty(0)
        return Arrivals(e, e.astype(np.int64), e.astype(np.int64), e.astype(bool), e, e)
    cols = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    order = np.argsort(cols["time"], kind="stable")
    return Arrivals(**{k: v[order] for k, v in cols.items()})
