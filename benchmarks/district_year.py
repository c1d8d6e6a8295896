"""Benchmark (measured, not asserted): a district-year of scenarios/district.toml.

Prints wall seconds, simulated (SimPy) events per second, engine transitions, peak RSS and —
in the same process — the event rate of a bare SimPy M/M/c loop for comparison. The last
line is one JSON object: {"wall_s", "events_per_s", "peak_rss_mb", "simpy_events_per_s", "cases_total", …}.

    python benchmarks/district_year.py [--days 365] [--scenario scenarios/district.toml]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from pathlib import Path

import numpy as np
import simpy

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from twin.run import simulate  # noqa: E402
from twin.scenario import load_scenario  # noqa: E402


def bare_simpy_mmc(customers: int = 200_000, c: int = 3, lam: float = 0.08, mu: float = 1 / 30, seed: int = 1) -> float:
    """Events per second of the textbook SimPy M/M/c model (a process per customer)."""
    env = simpy.Environment()
    server = simpy.Resource(env, capacity=c)
    rng = np.random.default_rng(seed)
    gaps = rng.exponential(1 / lam, customers).tolist()
    services = rng.exponential(1 / mu, customers).tolist()

    def customer(i: int):  # type: ignore[no-untyped-def]
        with server.request() as req:
            yield req
            yield env.timeout(services[i])

    def source():  # type: ignore[no-untyped-def]
        for i in range(customers):
            yield env.timeout(gaps[i])
            env.process(customer(i))

    env.process(source())
    t0 = time.perf_counter()
    env.run()
    wall = time.perf_counter() - t0
    events = next(env._eid)  # type: ignore[attr-defined]
    return events / wall


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--scenario", default=str(ROOT / "scenarios" / "district.toml"))
    ap.add_argument("--days", type=float, default=365.0)
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--set", action="append", default=[], help="scenario override dotted.path=value (e.g. run.partitions=1)")
    ap.add_argument("--inline", action="store_true",
                    help="run the coupled partitions in this process instead of one child process each (same results)")
    args = ap.parse_args()
    sc = load_scenario(args.scenario, args.set)
    t0 = time.perf_counter()
    me0 = resource.getrusage(resource.RUSAGE_SELF)
    cpu0 = me0.ru_utime + me0.ru_stime
    r = simulate(sc, seed=args.seed, days=args.days, keep_events=False, tables=False, parallel=not args.inline)
    wall = time.perf_counter() - t0
    s = r.summary
    me = resource.getrusage(resource.RUSAGE_SELF)
    # partitions run in processes forked from a server (not our children): each reports its own
    children = {pid: v for pid, v in r.processes.items() if pid != os.getpid()}
    cpu_parent = me.ru_utime + me.ru_stime - cpu0  # setup, the shared level (processes mode), merging, the summary
    cpu_s = cpu_parent + sum(cpu for _, cpu in children.values())  # all processes of the run
    parent_mb = me.ru_maxrss / 1024.0
    child_mb = max((rss for rss, _ in children.values()), default=0.0)
    n_children = len(children)
    rss_mb = parent_mb + sum(rss for rss, _ in children.values())  # partitions run side by side: their peaks add up
    ev_rate = s["events_processed"] / wall
    bare = bare_simpy_mmc()
    print(f"scenario            {sc.meta.name}: {s['residents']:,} residents, {s['grids']:,} grids, {args.days:g} days, {s['partitions']} partition(s)")
    print(f"cases               {s['cases_total']:,} after warm-up ({s['cases_per_1000_per_day']:.2f} per 1,000 per day)")
    print(f"wall                {wall:.1f} s")
    print(f"SimPy events        {s['events_processed']:,}  ({ev_rate:,.0f} per s)")
    print(f"engine transitions  {s['engine_transitions']:,}  ({s['engine_transitions'] / wall:,.0f} per s)")
    print(f"CPU                 {cpu_s:.1f} s over all processes (a loaded machine stretches wall time, CPU time less so)")
    print(f"                    of which this process {cpu_parent:.1f} s (the shared district level in processes mode, merge, summary),"
          f" partition processes {cpu_s - cpu_parent:.1f} s")
    print(f"peak RSS            {rss_mb:,.0f} MB  (parent {parent_mb:,.0f} MB + {n_children} partition processes, the largest {child_mb:,.0f} MB)")
    print(f"bare SimPy M/M/c    {bare:,.0f} events per s  (model: {100 * ev_rate / bare:.0f} % of it)")
    print(json.dumps({
        "wall_s": round(wall, 2),
        "cpu_s": round(cpu_s, 1),
        "cpu_parent_s": round(cpu_parent, 1),
        "events_per_s": round(ev_rate),
        "peak_rss_mb": round(rss_mb),
        "simpy_events_per_s": round(bare),
        "cases_total": s["cases_total"],
        "engine_transitions_per_s": round(s["engine_transitions"] / wall),
        "days": args.days,
        "partitions": s["partitions"],
    }))


if __name__ == "__main__":
    main()
