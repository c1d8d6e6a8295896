"""Parallel efficiency of a sweep: the same small street sweep with 1 and with 2 local workers.

    python benchmarks/sweep_scaling.py [--reps 6] [--days 10] [--workers 2]

Both runs use local worker processes (pool start-up included, as a planner would see it) and
fresh study directories; the results of the two runs are checked to be identical (common
random numbers make every replication's outcome independent of who runs it). Efficiency is
``serial_s / (workers × parallel_s)``. Measured, not asserted; the last line is JSON:
``{"efficiency": …, "serial_s": …, "parallel_s": …}``. Other load on the machine lowers it.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=6, help="replications per point")
    ap.add_argument("--days", type=float, default=10.0, help="simulated days per replication")
    ap.add_argument("--workers", type=int, default=2, help="workers of the parallel run")
    args = ap.parse_args()

    import pandas as pd

    from twin.scenario import default_scenario_path
    from twin.study.executors import ProcessExecutor
    from twin.study.spec import parse_vary
    from twin.study.sweep import run_sweep

    varies = [parse_vary("staffing.households_per_worker=300,500,700,900")]
    sets = ["run.warmup_days=2"]
    runs = len(varies[0].values) * args.reps
    print(f"sweep: {runs} replications of {default_scenario_path().name}, {args.days:g} days each; "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}")
    timings: dict[int, float] = {}
    model_s: dict[int, float] = {}
    tables: dict[int, pd.DataFrame] = {}
    with tempfile.TemporaryDirectory(prefix="sweep-scaling-") as tmp:
        # start the local fork server (which imports the model once) before timing either run
        run_sweep(None, [parse_vary("staffing.street_dispatchers=2")], 1, Path(tmp) / "warm-up", days=3.0,
                  overrides=sets, executor=ProcessExecutor(1))
        for workers in (1, args.workers):
            t0 = time.perf_counter()
            r = run_sweep(None, varies, args.reps, Path(tmp) / f"w{workers}", days=args.days, overrides=sets,
                          executor=ProcessExecutor(workers))
            timings[workers] = time.perf_counter() - t0
            model_s[workers] = sum(json.loads(p.read_text())["wall_seconds"] for p in r.out.rglob("summary.json"))
            tables[workers] = r.results
            busy = model_s[workers] / (workers * timings[workers])
            print(f"{workers} worker(s): {timings[workers]:.2f} s wall ({timings[workers] / runs:.3f} s per replication); "
                  f"{model_s[workers]:.2f} s inside simulate(), workers busy {busy:.0%}")
    pd.testing.assert_frame_equal(tables[1], tables[args.workers])
    print("results identical with 1 and", args.workers, "workers")
    serial, parallel = timings[1], timings[args.workers]
    efficiency = serial / (args.workers * parallel)
    print(f"speed-up {serial / parallel:.2f}× on {args.workers} workers; parallel efficiency {efficiency:.1%}; "
          f"time inside simulate() parallel/serial {model_s[args.workers] / model_s[1]:.2f} (above 1 = contention); "
          f"load average now {os.getloadavg()[0]:.2f} (other processes take cores from the parallel run)")
    print(json.dumps({"efficiency": round(efficiency, 4), "serial_s": round(serial, 3), "parallel_s": round(parallel, 3)}))


if __name__ == "__main__":
    main()
