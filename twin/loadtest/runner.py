"""``twin loadtest`` end to end: plan, serve, run Locust, read back, compare, report, judge.

With no ``--host`` a fresh ``twin serve`` is started on a free 127.0.0.1 port over a new
SQLite database in the output directory, with the tokens the plan needs. Locust runs headless
as its own process (or one master and ``locust_workers`` workers), writing ``locust_*.csv``
and ``locust.html``. Whatever happens — success, an error, Ctrl-C or SIGTERM — every process
started here is stopped before :func:`run` returns (:class:`twin.loadtest.procs.Processes`).
"""

from __future__ import annotations

import json
import shlex
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from twin.loadtest import results as res
from twin.loadtest.mobilisation import mobilisation_block, read_mob_logs
from twin.loadtest.plan import PLAN_ENV, Plan, read_send_logs
from twin.loadtest.procs import Processes, free_port, locust_argv, sigterm_unwinds, start_service
from twin.loadtest.schedule import PlanError, build_plan, read_stream, window_for
from twin.loadtest.tokens import create_tokens, read_tokens
from twin.run import simulate
from twin.scenario import load_scenario
from twin.service.storage import sqlite_path

LOCUSTFILE = Path(__file__).resolve().parents[2] / "loadtests" / "locustfile.py"


@dataclass
class Options:
    scenario: str | None = None
    overrides: list[str] = field(default_factory=list)
    seed: int | None = None
    host: str | None = None
    users: int = 10
    duration_s: float = 120.0
    speedup: float = 720.0
    out: Path = Path("loadtest-out")
    fail_if: list[str] = field(default_factory=list)
    start_day: float | None = None
    target: str = "reference"
    stream: Path | None = None
    tokens: Path | None = None
    locust_workers: int = 0
    drain_s: float | None = None
    device_timeout_s: float = 5.0
    device_lost_replies: float = 0.0
    serve_workers: int = 1
    db: str | None = None  # the started service's database (None: a fresh SQLite file in out)
    lead_s: float | None = None
    kpi_every_s: float | None = None
    poll_minutes: float = 10.0
    members_scale: float = 1.0
    checkin_lost_replies: float = 0.0
    locustfile: Path = LOCUSTFILE
    command: str = ""


class KpiPoller(threading.Thread):
    """Reads /kpis every few seconds while the load runs (backlog over time)."""

    def __init__(self, url: str, token: str, plan: Plan, every: float) -> None:
        super().__init__(name="kpi-poller", daemon=True)
        self.url, self.token, self.plan, self.every = url, token, plan, every
        self.stop_event = threading.Event()
        self.rows: list[dict[str, Any]] = []

    def run(self) -> None:
        while not self.stop_event.wait(self.every):
            try:
                k = res.fetch_kpis(self.url, self.token)
            except Exception:  # the server may be busy; the next poll retries
                continue
            s = time.time() - self.plan.t0_epoch
            self.rows.append({"wall_s": s, "sim_min": self.plan.sim_now(), "backlog": k.get("backlog"),
                              "cases": k.get("cases_total"), "overdue_open": k.get("overdue_open")})


def _fresh_db(path: Path) -> str:
    for suffix in ("", "-wal", "-shm"):
        p = Path(str(path) + suffix)
        if p.exists():
            p.unlink()
    return str(path)


def service_db(db: str | None, out: Path) -> str:
    """The database for the service the run starts: a fresh SQLite file by default; a given
    SQLite path is made afresh too; a PostgreSQL database must hold no cases yet (the run
    compares every case in it with the simulation, and we do not delete anyone's data)."""
    if db is None:
        return _fresh_db(out / "service.db")
    if not db.startswith(("postgresql://", "postgres://")):
        path = sqlite_path(db)
        assert path is not None
        return _fresh_db(Path(path))
    import psycopg

    try:
        with psycopg.connect(db, connect_timeout=10) as conn:
            exists = conn.execute("SELECT to_regclass('engine_cases') IS NOT NULL").fetchone()
            n = conn.execute("SELECT count(*) FROM engine_cases").fetchone() if exists and exists[0] else (0,)
    except psycopg.Error as exc:
        raise PlanError(f"--db: cannot use {db!r}: {str(exc).strip()}") from None
    if n and n[0]:
        raise PlanError(f"--db: expected an empty database (the run's cases are all the cases in it), found {n[0]} cases")
    return db


def run(opts: Options, log: Any = print) -> tuple[dict[str, Any], int]:
    """Run one load test; returns (the loadtest.json content, exit code: 0 ok, 1 threshold failed)."""
    thresholds = [res.parse_threshold(t) for t in opts.fail_if]
    sc = load_scenario(opts.scenario, opts.overrides)
    seed = int(sc.run.seed if opts.seed is None else opts.seed)
    drain_s = opts.drain_s if opts.drain_s is not None else min(60.0, opts.duration_s * 0.25)
    processes = max(1, opts.locust_workers)
    # the pure simulation of the same scenario and seed (it also gives the stream)
    win = window_for(sc, opts.duration_s, opts.speedup, opts.start_day)
    end_min = min(sc.run.days * 1440.0, win.end_min + drain_s * opts.speedup / 60.0)
    log(f"simulating {sc.meta.name} (seed {seed}) to day {end_min / 1440.0:.3g} for the stream and the comparison …")
    sim = simulate(sc, seed=seed, days=end_min / 1440.0)
    incidents = read_stream(opts.stream) if opts.stream is not None else sim.incidents
    plan, win, territory = build_plan(
        sc, incidents, seed=seed, duration_s=opts.duration_s, speedup=opts.speedup, start_day=opts.start_day,
        users=opts.users, target=opts.target, processes=processes, drain_s=drain_s, device_timeout_s=opts.device_timeout_s,
        device_lost_replies=opts.device_lost_replies,
        poll_sim_minutes=opts.poll_minutes, sim_cases=sim.cases if opts.stream is None else None,
        modes_timeline=(sim.summary.get("modes") or {}).get("timeline"), call_ups=sim.call_ups,
        members_scale=opts.members_scale, checkin_lost_replies=opts.checkin_lost_replies,
    )
    out = Path(opts.out)
    out.mkdir(parents=True, exist_ok=True)
    staff = {k: len(v) for k, v in plan.units.items()}
    log(f"{len(plan.arrivals)} arrivals in {opts.duration_s:g} s (simulated days {win.start_min / 1440:.3g}–{win.end_min / 1440:.3g}); staff {staff}")
    for s in plan.mode_steps:
        log(f"mode {s.mode} at {s.at_s:g} s ({s.cause}); {s.expected_members} members called up")
    if plan.members:
        log(f"{len(plan.members)} member check-ins (报到) from {plan.members[0].at_s:.1f} s to {plan.members[-1].at_s:.1f} s (members scale {plan.members_scale:g})")
    csv_prefix = out / "locust"
    kpi_rows: list[dict[str, Any]] = []
    cases: list[dict[str, Any]] = []
    kpis_end: dict[str, Any] | None = None
    platform_mob: dict[str, Any] | None = None
    pids: dict[str, int] = {}
    interrupted = None
    with sigterm_unwinds(), Processes(out / "pids.json") as procs:
        try:
            if opts.host is None:
                db = service_db(opts.db, out)
                tokens = create_tokens(db, territory, plan.units)
                # the service's catalogue is the played scenario's: every category the plan sends is known
                catalogue = ("--categories", str(opts.scenario)) if opts.scenario is not None else ()
                url = start_service(procs, db, out / "service.log", workers=opts.serve_workers, extra=catalogue)
                log(f"twin serve at {url} (db {db})")
            else:
                url = opts.host.rstrip("/")
                if opts.tokens is None:
                    raise PlanError("--host: also give --tokens FILE (a JSON object of token key → token; see loadtests/README.md)")
                tokens = read_tokens(opts.tokens)
            plan.tokens = tokens
            lead = opts.lead_s if opts.lead_s is not None else (8.0 if opts.locust_workers == 0 else 12.0)
            plan.t0_epoch = time.time() + lead
            plan.run_id = f"lt{int(plan.t0_epoch)}"
            plan.send_log_dir = str(out.resolve())
            for old in [*out.glob("sent-*.log"), *out.glob("mob-*.log")]:
                old.unlink()
            plan_path = plan.save(out / "plan.json")
            env = {PLAN_ENV: str(plan_path.resolve()), "PYTHONUNBUFFERED": "1"}
            html = out / "locust.html"
            if opts.locust_workers == 0:
                master = procs.start("locust", locust_argv(opts.locustfile, url, csv_prefix, html), out / "locust.log", env)
            else:
                port = free_port()
                master = procs.start("locust-master", locust_argv(opts.locustfile, url, csv_prefix, html, "master", port, opts.locust_workers),
                                     out / "locust.log", env)
                for i in range(opts.locust_workers):
                    procs.start(f"locust-worker-{i}", locust_argv(opts.locustfile, url, csv_prefix, None, "worker", port), out / f"locust-worker-{i}.log", env)
            pids = procs.pids
            poller = None
            if "kpi" in tokens:
                every = opts.kpi_every_s or max(1.0, (opts.duration_s + drain_s) / 60.0)
                poller = KpiPoller(url, tokens["kpi"], plan, every)
                poller.start()
            limit = lead + opts.duration_s + drain_s + 90.0
            log(f"locust running for {opts.duration_s:g} s (+{drain_s:g} s drain) …")
            deadline = time.monotonic() + limit
            while master.poll() is None and time.monotonic() < deadline:
                time.sleep(0.2)
            if master.poll() is None:
                raise RuntimeError(f"locust did not finish within {limit:g} s; see {out / 'locust.log'}")
            if poller is not None:
                poller.stop_event.set()
                poller.join(timeout=5)
                kpi_rows = poller.rows
            if "kpi" in tokens and plan.target in ("reference", "open311"):
                try:
                    kpis_end = res.fetch_kpis(url, tokens["kpi"])
                    cases = res.fetch_cases(url, tokens["kpi"])
                except Exception as e:  # a foreign Open311 endpoint has no /kpis
                    log(f"no KPIs from {url}: {e}")
            if plan.mode_steps and "kpi" in tokens:
                try:
                    platform_mob = res.get_json(f"{url}/mobilisation", tokens["kpi"])
                except Exception as e:  # a platform without the mobilisation API
                    log(f"no /mobilisation from {url}: {e}")
        except KeyboardInterrupt:
            interrupted = "interrupted (Ctrl-C)"
            raise
        finally:
            if interrupted:
                log(f"{interrupted}: stopping every process started")
    locust = res.read_locust(csv_prefix)
    agg = locust["aggregate"]
    load_k = res.load_kpis(plan, cases) if cases else None
    arrivals_end = win.end_min
    sim_k = res.sim_kpis(sim.cases, win.start_min, arrivals_end, end_min)
    window_s = max(plan.rate_window_s, plan.duration_s / 20.0)
    arrivals = res.arrival_counts(plan, cases, window_s, read_send_logs(out)) if cases else None
    explanation = res.explain(plan, load_k, sim_k, agg, getattr(sc, "emergency", None) is not None) if load_k else []
    metrics = {
        **{k: agg.get(k) for k in ("p50_ms", "p95_ms", "p99_ms", "avg_ms", "max_ms", "rps", "error_rate", "failures", "requests")},
        "backlog_end": None if load_k is None else load_k["backlog_end"],
        "on_time_rate": None if load_k is None else load_k["on_time_rate"],
        "duplicates": None if arrivals is None else len(arrivals["duplicates"]),
        "arrivals_missing": None if arrivals is None else arrivals["scheduled_total"] - arrivals["reported_total"],
    }
    mob = mobilisation_block(plan, read_mob_logs(out), platform_mob, sim.summary.get("modes"))
    metrics["checked_in"] = None if mob is None else mob["checked_in"]
    metrics["checkin_duplicates"] = None if mob is None else mob["duplicates"]
    metrics["checkin_p99_ms"] = None if mob is None else mob["checkin_p99_ms"]
    checks = res.check(thresholds, metrics)
    failed = [c for c in checks if c["failed"]]
    result: dict[str, Any] = {
        "command": opts.command or " ".join(shlex.quote(a) for a in sys.argv),
        "scenario": sc.meta.name,
        "seed": seed,
        "target": plan.target,
        "host": opts.host or "started: twin serve on 127.0.0.1",
        "speedup": plan.speedup,
        "t0_epoch": plan.t0_epoch,
        "start_min": plan.start_min,
        "duration_s": plan.duration_s,
        "drain_s": plan.drain_s,
        "simulated_window_days": [win.start_min / 1440.0, win.end_min / 1440.0, end_min / 1440.0],
        "arrival_users": plan.arrival_users,
        "device_users": plan.device_users,
        "staff_users": staff,
        "locust_processes": {"workers": opts.locust_workers, "pids": pids},
        "system": {"rps": agg.get("rps"), "requests": agg.get("requests"), "failures": agg.get("failures"),
                   "error_rate": agg.get("error_rate"), "p50_ms": agg.get("p50_ms"), "p95_ms": agg.get("p95_ms"),
                   "p99_ms": agg.get("p99_ms"), "max_ms": agg.get("max_ms")},
        "endpoints": locust["endpoints"],
        "failures_by_kind": locust["failures_by_kind"],
        "failures": locust["failures"],
        "kpis": {"load_test": load_k, "pure_simulation": sim_k, "engine_kpis_endpoint": kpis_end},
        "comparison": explanation,
        "arrivals": arrivals,
        "mobilisation": mob,
        "backlog_series": kpi_rows,
        "sim_backlog_series": res.sim_backlog_series(sim.cases, win.start_min, arrivals_end, end_min, max(1.0, (end_min - win.start_min) / 120.0)),
        "history": locust["history"],
        "thresholds": checks,
        "exit_code": 1 if failed else 0,
    }
    (out / "loadtest.json").write_text(json.dumps(result, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8")
    return result, 1 if failed else 0
