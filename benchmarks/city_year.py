"""Benchmark (measured, not asserted): a city-year of scenarios/city.toml.

Every district's partitions run in lockstep on local processes (or Dask with ``--dask``), the
city's 12345 centre and operations centre in this process after them in every window; each
district finishes in its own worker. Prints wall seconds, CPU seconds over all processes, cases,
peak RSS per process and of this (the parent) process; the last line is one JSON object
{"wall_s", "cpu_s", "cases_total", "peak_rss_mb_max_process", "peak_rss_mb_parent", "partitions"}.

    python benchmarks/city_year.py [--days 365] [--districts N | --district NAME …] [--partitions P] [--dask local|tcp://HOST:8786]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from twin.city import run_city  # noqa: E402
from twin.scenario.city import load_city  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--scenario", default=str(ROOT / "scenarios" / "city.toml"))
    ap.add_argument("--days", type=float, default=365.0)
    ap.add_argument("--districts", type=int, default=None, help="run only the first N districts (a scaled city)")
    ap.add_argument("--district", action="append", default=[], help="run only this district (repeatable)")
    ap.add_argument("--partitions", type=int, default=None, help="partitions per district (default: the city file's)")
    ap.add_argument("--dask", default=None, help="'local' or a scheduler address (default: local processes)")
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--out", default=None, help="run directory (default: a temporary one, removed)")
    args = ap.parse_args()
    sets = [] if args.partitions is None else [f"city.partitions_per_district={args.partitions}"]
    city = load_city(args.scenario, sets)
    if args.districts is not None:
        city = city.first(args.districts)
    if args.district:
        city = city.only(args.district)
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="city-year-") as tmp:
        s = run_city(city, Path(args.out or tmp), seed=args.seed, days=args.days, dask=args.dask, tables=False)
    wall = time.perf_counter() - t0
    cpu = s["cpu_seconds"]  # the partitions' processes (forked from a server, not our children) and this one
    print(f"city                {s['city']}: {s['districts_count']} districts, {s['residents']:,} residents, {s['grids']:,} grids, {args.days:g} days")
    print(f"partitions          {s['partitions']} on {s['hosts']} ({s['processes']} processes)")
    print(f"cases               {s['cases_total']:,} after warm-up")
    print(f"wall                {wall:.1f} s")
    print(f"CPU                 {cpu:.1f} s over all processes ({1000 * cpu / max(1, s['cases_total']):.2f} ms per case)")
    print(f"peak RSS            largest process {s['peak_rss_mb_max_process']:,.0f} MB, parent {s['peak_rss_mb_parent']:,.0f} MB")
    print("                    by process: " + ", ".join(f"{mb:,.0f}" for mb in s["peak_rss_mb_by_process"].values()) + " MB")
    h = s.get("hotline_centre")
    if h is not None:  # the city level (issue 18): one 12345 centre above the districts
        w = h["answer_wait_s"]
        print(f"12345 centre        {h['calls']:,} calls ({h['answered_directly']:,} answered directly, {h['work_orders']:,} work orders); "
              f"wait p50/p90/p99 {w['p50']:.1f}/{w['p90']:.1f}/{w['p99']:.1f} s; occupancy {100 * h['occupancy']:.1f} %; "
              f"abandoned {h['abandoned']:,}")
    for name, d in s["districts"].items():
        print(f"  {name:<34} {d['residents']:>10,} residents {d['cases_total']:>10,} cases")
    print(json.dumps({
        "wall_s": round(wall, 2),
        "cpu_s": round(cpu, 1),
        "cases_total": s["cases_total"],
        "peak_rss_mb_max_process": round(s["peak_rss_mb_max_process"]),
        "peak_rss_mb_parent": round(s["peak_rss_mb_parent"]),
        "partitions": s["partitions"],
        "districts": s["districts_count"],
        "days": args.days,
    }))


if __name__ == "__main__":
    main()
