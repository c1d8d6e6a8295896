"""Benchmark (measured, not asserted): vectorised residents vs one Mesa agent per resident.

Runs the street scenario for 7 days twice — as it is (residents as NumPy arrays per grid)
and with a population of one ``mesa.Agent`` per resident that, every simulated hour, draws
for each category whether a need arises (the same non-homogeneous Poisson rates, thinned
per person-hour) — everything else identical. Prints both wall times, the speed ratio of
the whole run and of need generation alone; the last line is ``{"speedup": …, …}``.

    python benchmarks/naive_residents.py [--days 7]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import mesa
import numpy as np
from mesa.agent import AgentSet

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from agents.residents import NeedBatch, Residents  # noqa: E402
from twin.model import DistrictModel  # noqa: E402
from twin.scenario import load_scenario  # noqa: E402


class Person(mesa.Agent):
    """One resident, stepped every simulated hour."""

    def __init__(self, model: mesa.Model, grid: int, household: int) -> None:
        super().__init__(model)
        self.grid = grid
        self.household = household

    def step(self) -> None:
        pop: NaivePopulation = self.model.population  # type: ignore[attr-defined]
        rnd = self.model.random.random
        for c, p in enumerate(pop.hour_prob[self.grid]):
            if rnd() < p:
                pop.found.append((pop.hour_start + rnd() * 60.0, self.grid, c, self.household))


class NaivePopulation(Residents):
    """Residents whose needs come from per-person agents instead of per-grid arrays."""

    def __init__(self, model: mesa.Model, sc, households: np.ndarray, rng: np.random.Generator) -> None:  # type: ignore[no-untyped-def]
        super().__init__(model, sc, households, rng)
        model.population = self  # type: ignore[attr-defined]
        pph = sc.territory.people_per_household
        self.people: list[Person] = []
        k = 0
        for g, n in enumerate(households):
            for h in range(int(n)):
                k += 1
                size = int(np.floor(k * pph) - np.floor((k - 1) * pph))  # sizes average people_per_household
                for _ in range(size):
                    self.people.append(Person(model, g, int(self.offsets[g]) + h))
        self.agentset = AgentSet(self.people, random=model.random)
        self.found: list[tuple[float, int, int, int]] = []
        self.hour_start = 0.0
        self.hour_prob = np.zeros((len(households), len(self.rate)))
        self.seconds = 0.0

    def needs(self, day: int, weekday: int, month: int, residents: np.ndarray, multiplier: np.ndarray) -> NeedBatch:
        t0 = time.perf_counter()
        self.found = []
        per_person_day = self.rate[None, :] * self.weekly[:, weekday][None, :] * self.monthly[:, month][None, :] * multiplier
        for h in range(24):
            self.hour_start = day * 1440.0 + h * 60.0
            self.hour_prob = (per_person_day * self.hourly[:, h][None, :] / 24.0).tolist()
            self.agentset.do("step")
        f = sorted(self.found)
        arr = np.array(f) if f else np.zeros((0, 4))
        self.seconds += time.perf_counter() - t0
        return NeedBatch(arr[:, 0], arr[:, 1].astype(np.int64), arr[:, 2].astype(np.int64), arr[:, 3].astype(np.int64))


class TimedResidents(Residents):
    seconds = 0.0

    def needs(self, *a, **k):  # type: ignore[no-untyped-def]
        t0 = time.perf_counter()
        out = super().needs(*a, **k)
        self.seconds += time.perf_counter() - t0
        return out


def _run(sc, days: float, population: type) -> tuple[float, float, int, int]:  # type: ignore[no-untyped-def]
    t0 = time.perf_counter()
    m = DistrictModel(sc, days=days, keep_events=False)
    old = m.residents
    old.remove()
    m.residents = population(m, sc, m.terr.households, np.random.default_rng(sc.run.seed))
    m.incidents.residents = m.residents
    m.flow.residents = m.residents
    m.run_model()
    wall = time.perf_counter() - t0
    return wall, m.residents.seconds, m.incidents.needs_total, len(m.agents)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--days", type=float, default=7.0)
    args = ap.parse_args()
    sc = load_scenario()
    vec_wall, vec_needs_s, vec_needs, vec_agents = _run(sc, args.days, TimedResidents)
    naive_wall, naive_needs_s, naive_needs, naive_agents = _run(sc, args.days, NaivePopulation)
    print(f"street scenario, {args.days:g} days")
    print(f"vectorised residents: {vec_wall:7.2f} s wall, needs {vec_needs_s:6.3f} s, {vec_needs:,} needs, {vec_agents:,} Mesa agents")
    print(f"one agent per person: {naive_wall:7.2f} s wall, needs {naive_needs_s:6.3f} s, {naive_needs:,} needs, {naive_agents:,} Mesa agents")
    speedup = naive_wall / vec_wall
    needs_speedup = naive_needs_s / max(vec_needs_s, 1e-9)
    print(f"speed ratio: whole run {speedup:.1f}×, need generation alone {needs_speedup:.0f}×")
    print(json.dumps({"speedup": round(speedup, 1), "needs_speedup": round(needs_speedup), "vectorised_s": round(vec_wall, 2), "naive_s": round(naive_wall, 2)}))


if __name__ == "__main__":
    main()
