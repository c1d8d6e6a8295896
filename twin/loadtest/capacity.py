"""``twin capacity``: find the knee of the reference service — the highest offered rate of a
mix it sustains — and what saturated first, on SQLite or PostgreSQL.

A fresh ``twin serve`` is started (the scenario's catalogue, no per-principal rate limit: the
load comes from a few principals); each step runs the open-loop generator
(``loadtests/openloop.py``) as its own process at one offered rate while a sampler reads
``GET /metrics`` (every worker's CPU seconds, the committer's queue and COMMIT timings) and the
machine's CPU; :class:`twin.loadtest.knee.KneeSearch` picks the next rate and
:func:`twin.loadtest.knee.saturation` says what gave out first. Every process started here is
stopped on the way out (:class:`twin.loadtest.procs.Processes`).

Mixes (what an engineer preparing for a flood season asks about):

- ``ordinary`` — a case's lifecycle, seven requests (report, accept, dispatch, resolve, verify,
  close, evaluate), as an ordinary day loads the platform;
- ``checkin`` — the check-in burst (报到) of a call-up: one check-in per new member;
- ``storm`` — the switchover hour: members check in and look at their tasks, residents report
  emergencies (tier E) and follow them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from twin.loadtest import results as res
from twin.loadtest.knee import KneeSearch, Limits, Step, saturation
from twin.loadtest.procs import Processes, sigterm_unwinds, start_service
from twin.loadtest.runner import service_db
from twin.loadtest.schedule import PlanError
from twin.loadtest.tokens import create_principal_tokens
from twin.scenario import load_scenario
from twin.service.auth import Principal, Role, ScopeKind

OPENLOOP = Path(__file__).resolve().parents[2] / "loadtests" / "openloop.py"
MIXES = ("ordinary", "storm", "checkin")  # twin.cli.capacity repeats them for its early check


@dataclass
class CapacityOptions:
    mix: str = "ordinary"
    scenario: str | None = None  # the catalogue and territory (default: flood when it exists)
    db: str | None = None
    out: Path = Path("capacity-out")
    limits: Limits = field(default_factory=Limits)
    start_rps: float = 50.0
    factor: float = 1.5
    max_rps: float = 5000.0
    precision: float = 0.1
    max_steps: int = 14
    step_s: float = 10.0
    warmup_s: float = 2.0
    rest_s: float = 2.0
    serve_workers: int = 1
    connections: int = 256
    timeout_s: float = 5.0
    seed: int = 1
    command: str = ""


# ---------------------------------------------------------------------- the machine
def _proc_cpu_seconds(belongs: Callable[[str, list[str]], bool]) -> float:
    """User + system CPU seconds of the processes whose ``(comm, stat fields after it)`` belong."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            raw = (d / "stat").read_text()
        except OSError:
            continue
        head, _, rest = raw.rpartition(")")
        f = rest.split()
        if belongs(head.partition("(")[2], f):
            total += int(f[11]) + int(f[12])
    return total / tick


def session_cpu_seconds(pid: int) -> float:
    """CPU seconds of every process in ``pid``'s session (the service and its workers)."""
    return _proc_cpu_seconds(lambda _c, f: int(f[3]) == pid)


def postgres_cpu_seconds() -> float:
    """CPU seconds of the PostgreSQL server processes visible here (0 when none)."""
    return _proc_cpu_seconds(lambda comm, _f: comm == "postgres")


def machine_ticks() -> tuple[int, int]:
    """(idle, total) jiffies of the machine (/proc/stat)."""
    v = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    return v[3] + v[4], sum(v)


class MetricsSampler(threading.Thread):
    """Reads ``GET /metrics`` every ``every`` seconds during a step: the latest body per worker
    pid, and the deepest committer queue seen."""

    def __init__(self, url: str, every: float = 0.25) -> None:
        super().__init__(name="metrics-sampler", daemon=True)
        self.url, self.every = url, every
        self.stop_event = threading.Event()
        self.latest: dict[int, dict[str, Any]] = {}
        self.queue_max = 0
        self.ok = False

    def read(self) -> None:
        try:
            body = res.get_json(f"{self.url}/metrics", timeout=2.0)
        except Exception:  # busy or no /metrics: the next read retries
            return
        if isinstance(body, dict) and "pid" in body:
            self.ok = True
            self.latest[int(body["pid"])] = body
            self.queue_max = max(self.queue_max, int((body.get("committer") or {}).get("queue_depth") or 0))

    def run(self) -> None:
        while not self.stop_event.wait(self.every):
            self.read()

    def snapshot(self, workers: int, tries: int = 40) -> dict[int, dict[str, Any]]:
        """Every worker's body now (asks until each of ``workers`` answered, or ``tries`` asks)."""
        seen: dict[int, dict[str, Any]] = {}
        for _ in range(tries):
            try:
                body = res.get_json(f"{self.url}/metrics", timeout=2.0)
            except Exception:
                continue
            if isinstance(body, dict) and "pid" in body:
                seen[int(body["pid"])] = body
                if len(seen) >= workers:
                    break
        return seen


def indicators(before: dict[int, dict[str, Any]], after: dict[int, dict[str, Any]], queue_max: int, wall: float,
               workers: int, service_cpu: float, pg_cpu: float, client: dict[str, Any], busy: float) -> dict[str, float | None]:
    """A step's saturation indicators (see :data:`twin.loadtest.knee.SATURATION`)."""
    both = [p for p in after if p in before]
    if both and len(both) >= workers:
        cpu = sum(float(after[p]["cpu_s"]) - float(before[p]["cpu_s"]) for p in both)
        cpu_source = 1.0
    else:  # no /metrics (another platform build) or a worker never answered: the session's CPU from /proc
        cpu, cpu_source = service_cpu, 0.0
    com = [a.get("committer") or {} for a in after.values()]
    p99 = [c.get("commit_ms_p99") for c in com if c.get("commit_ms_p99") is not None]
    wait = [c.get("wait_ms_p99") for c in com if c.get("wait_ms_p99") is not None]
    served = sum(int((after[p].get("requests") or {}).get("served", 0)) - int((before[p].get("requests") or {}).get("served", 0)) for p in both)
    refused = sum(int((after[p].get("requests") or {}).get("refused", 0)) - int((before[p].get("requests") or {}).get("refused", 0)) for p in both)
    cores = os.cpu_count() or 1
    pg_cpu = max(0.0, pg_cpu)  # every postgres process here (others' too: noisy); backends that ended drop out
    ours = (cpu + pg_cpu + float(client.get("client_cpu_s", 0.0))) / max(1e-9, wall)
    return {
        "cpu_util": round(cpu / max(1e-9, wall * workers), 4),
        "cpu_from_metrics": cpu_source,
        "queue_depth_max": float(queue_max),
        "commit_ms_p99": max(p99) if p99 else None,
        "wait_ms_p99": max(wait) if wait else None,
        "refused_share": round(refused / served, 4) if served else None,
        "db_cpu_util": round(pg_cpu / max(1e-9, wall), 4),
        "client_cpu_util": round(float(client.get("client_cpu_s", 0.0)) / max(1e-9, float(client.get("wall_s") or wall)), 4),
        "machine_busy": round(busy, 4),
        "other_cores": round(max(0.0, busy * cores - ours), 3),
    }


# ---------------------------------------------------------------------- a run
def _places(territory: dict[str, Any]) -> list[dict[str, str]]:
    out = []
    for g in territory["grids"]:
        community = g.rsplit("-", 1)[0]
        out.append({"grid": g, "community": community, "street": g.split("-")[0], "district": territory["district"]})
    return out


def run_capacity(opts: CapacityOptions, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Find the knee; returns the ``capacity.json`` content (also written to ``opts.out``)."""
    from twin.loadtest.schedule import staff_units

    if opts.mix not in MIXES:
        raise PlanError(f"--mix: expected one of {', '.join(MIXES)}, got {opts.mix!r}")
    search = KneeSearch(opts.start_rps, opts.factor, opts.max_rps, opts.limits, opts.precision, opts.max_steps)
    if opts.step_s <= opts.warmup_s:
        raise PlanError(f"--step-seconds: expected more than the warm-up ({opts.warmup_s:g} s), got {opts.step_s:g}")
    sc = load_scenario(opts.scenario)
    em = getattr(sc, "emergency", None)
    if opts.mix != "ordinary" and (em is None or not getattr(Role, "APP", None)):
        why = "the scenario has no [emergency] section" if em is None else "this service has no mobilisation API (role app)"
        raise PlanError(f"--mix {opts.mix}: expected a scenario with an [emergency] section and a platform with check-ins; {why}")
    _, territory = staff_units(sc, opts.seed)
    out = Path(opts.out)
    out.mkdir(parents=True, exist_ok=True)
    d = territory["district"]
    who = {"admin": Principal("capacity-admin", Role.ADMIN, ScopeKind.DISTRICT, d),
           "district": Principal("capacity-centre", Role.DISTRICT_CENTRE, ScopeKind.DISTRICT, d)}
    app_role = getattr(Role, "APP", None)
    if app_role is not None:
        who["app"] = Principal("capacity-app", app_role, ScopeKind.DISTRICT, d)
    category = "environment" if "environment" in sc.categories else next(iter(sc.categories))
    spec_base = {
        "mix": opts.mix, "seed": opts.seed, "run_id": f"cap{int(time.time())}", "timeout_s": opts.timeout_s,
        "connections": opts.connections, "duration_s": opts.step_s, "warmup_s": opts.warmup_s,
        "places": _places(territory), "category": category,
        "emergency_category": next(iter(em.categories)) if em is not None else category,
    }
    result: dict[str, Any] = {"command": opts.command, "mix": opts.mix, "scenario": sc.meta.name,
                              "limits": {"p99_ms": opts.limits.p99_ms, "error_rate": opts.limits.error_rate,
                                         "min_throughput": opts.limits.min_throughput},
                              "serve_workers": opts.serve_workers, "step_s": opts.step_s, "warmup_s": opts.warmup_s}
    with sigterm_unwinds(), Processes(out / "pids.json") as procs:
        db = service_db(opts.db, out)
        result["db"] = "postgresql" if db.startswith(("postgresql://", "postgres://")) else "sqlite"
        tokens = create_principal_tokens(db, who)
        extra = ["--rate-limit", "0"]
        if opts.scenario is not None:
            extra += ["--categories", str(opts.scenario)]
        url = start_service(procs, db, out / "service.log", workers=opts.serve_workers, extra=extra)
        service_pid = procs.pids["service"]
        log(f"twin serve at {url} ({result['db']}, {opts.serve_workers} worker(s)); mix {opts.mix}; "
            f"limits p99 ≤ {opts.limits.p99_ms:g} ms, errors ≤ {opts.limits.error_rate:g}")
        if opts.mix != "ordinary":
            body = json.dumps({"mode": "emergency", "reason": "capacity test: the check-in storm", "expected_members": 100000}).encode()
            _post(f"{url}/mode", body, tokens["district"])
        spec_base["url"] = url
        spec_base["tokens"] = {"admin": tokens["admin"], "app": tokens.get("app", "")}
        probe = MetricsSampler(url)
        k = 0
        while (rate := search.next_rate()) is not None:
            k += 1
            spec = {**spec_base, "rate": rate, "step": k}
            spec_path = out / f"step-{k}.json"
            spec_path.write_text(json.dumps(spec), encoding="utf-8")
            before = probe.snapshot(opts.serve_workers)
            cpu0, pg0, (idle0, tot0) = session_cpu_seconds(service_pid), postgres_cpu_seconds(), machine_ticks()
            sampler = MetricsSampler(url)
            sampler.start()
            t0 = time.monotonic()
            r = subprocess.run([sys.executable, str(OPENLOOP), str(spec_path), str(out / f"step-{k}-out.json")],
                               capture_output=True, text=True, timeout=opts.step_s + 4 * opts.timeout_s + 60)
            wall = time.monotonic() - t0
            sampler.stop_event.set()
            sampler.join(timeout=5)
            if r.returncode != 0:
                raise RuntimeError(f"the load generator failed at step {k}: {r.stderr[-2000:]}")
            client = json.loads((out / f"step-{k}-out.json").read_text(encoding="utf-8"))
            after = probe.snapshot(opts.serve_workers)
            idle1, tot1 = machine_ticks()
            busy = 1.0 - (idle1 - idle0) / max(1, tot1 - tot0)
            wall = float(client.get("wall_s") or wall)  # the load's own span (not the generator's start-up)
            ind = indicators(before, after, sampler.queue_max, wall, opts.serve_workers,
                             session_cpu_seconds(service_pid) - cpu0, postgres_cpu_seconds() - pg0, client, busy)
            step = Step(rate=round(rate, 3), requests=int(client["requests"]), achieved_rps=float(client["achieved_rps"]),
                        p50_ms=client["p50_ms"], p99_ms=client["p99_ms"], error_rate=float(client["error_rate"]), server=ind)
            phase = search.phase
            why = search.record(step)
            log(f"step {k} [{phase}]: {rate:.1f} requests/s offered → {step.achieved_rps:.1f}/s answered, "
                f"p50 {step.p50_ms} ms, p99 {step.p99_ms} ms, errors {100 * step.error_rate:.2f} %; "
                f"server CPU {ind['cpu_util']:.2f}, committer queue ≤ {ind['queue_depth_max']:g}, commit p99 {ind['commit_ms_p99']} ms, "
                f"generator CPU {ind['client_cpu_util']:.2f}, machine {ind['machine_busy']:.2f} (others {ind['other_cores']:.1f} cores) — "
                + ("sustained" if not why else "broke: " + "; ".join(why)))
            time.sleep(opts.rest_s)  # let queues drain before the next rate
    curve = search.curve()
    result.update({
        "knee_rps": search.knee,
        "broken_at_rps": search.hi,
        "reached_max": search.reached_max,
        "steps_run": len(search.steps),
        "curve": curve,
        "saturation": saturation(curve),
    })
    (out / "capacity.json").write_text(json.dumps(result, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8")
    return result


def _post(url: str, body: bytes, token: str) -> None:
    import urllib.request

    req = urllib.request.Request(url, data=body, method="POST",
                                 headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:  # noqa: S310 - our own service
        r.read()
