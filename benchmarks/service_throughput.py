"""Throughput of ``twin serve``: the case lifecycle mix against the ``GET /health`` ceiling.

For SQLite (a fresh file) and PostgreSQL (``--pg-url`` or ``GRIDTWIN_PG_URL``; skipped when
neither is given) this starts the real server and drives it with Locust — run as its own
process, never imported — and prints:

- the sustained requests/s of ``GET /health`` (the ceiling of this server on this machine),
- the sustained requests/s of the lifecycle mix (report, accept, dispatch, resolve, verify,
  close, evaluate: seven requests per case, each transition with If-Match),
- their ratio, and p50/p95/p99 latency of the mix at 80 % of its maximum rate,
- with ``--repeat`` (3) alternating health/lifecycle pairs: medians, and the ratio of each pair
  (this machine is shared; one pair alone swings by ±10 %),
- the server's CPU milliseconds per request, for ``/health`` and for the mix, measured with
  one sequential client (no competition for the CPU: the figure to compare on a noisy
  machine) and during the Locust runs (server CPU time / requests served),
- where the rest of the machine went during the runs: Locust's own CPU per request, the
  PostgreSQL server's CPU per lifecycle request (when it runs here) and how busy the machine
  was. When all three share the cores and the machine is saturated in both runs, the ratio is
  the ratio of the CPU each kind of request costs in total.

The last line is one JSON object::

    {"sqlite": {"lifecycle_rps": …, "health_rps": …, "ratio": …, "p99_ms_at_80pct": …, …},
     "postgresql": {…}}

Measured, not asserted. Example: ``python benchmarks/service_throughput.py --duration 15``.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from twin.loadtest.capacity import machine_ticks, postgres_cpu_seconds, session_cpu_seconds  # noqa: E402

LOCUSTFILE = '''
import json
import os
from locust import FastHttpUser, constant, constant_throughput, task

TOKEN = os.environ["GT_TOKEN"]
RATE = float(os.environ.get("GT_TASK_RATE", "0"))
HEADERS = {"Authorization": "Bearer " + TOKEN, "Content-Type": "application/json"}
# Bodies encoded once: the load generator shares this machine's two cores with the server, so
# its own work per request is kept as small as it can be (the same reason the ids and versions
# are read from the Location and ETag headers rather than by parsing each response).
REPORT = json.dumps({"category": "environment", "tier": "T1", "grid": "G1", "community": "C1", "street": "S1", "district": "D"}).encode()
STEPS = tuple(
    (action, json.dumps(body or {}).encode())
    for action, body in (
        ("accept", None),
        ("dispatch", {"assignees": ["board:民生服务"]}),
        ("resolve", {"note": "done"}),
        ("verify", None),
        ("close", None),
        ("evaluate", {"satisfaction": 5}),
    )
)


class Health(FastHttpUser):
    weight = int(os.environ.get("GT_HEALTH", "0"))
    wait_time = constant(0)

    @task
    def health(self):
        self.client.get("/health")


class Lifecycle(FastHttpUser):
    weight = int(os.environ.get("GT_LIFECYCLE", "0"))
    wait_time = constant_throughput(RATE) if RATE > 0 else constant(0)

    @task
    def lifecycle(self):
        r = self.client.post("/cases", data=REPORT, headers=HEADERS, name="report")
        if r.status_code != 201:
            return
        base, etag = r.headers["Location"] + "/", r.headers["ETag"]
        for action, body in STEPS:  # the next If-Match is the ETag (the case version), as clients do
            r = self.client.post(base + action, data=body, headers={**HEADERS, "If-Match": etag}, name=action)
            if r.status_code != 200:
                return
            etag = r.headers["ETag"]
'''


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}


EXTRA_SERVE_ARGS: list[str] = []


def start_server(db: str, workers: int, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    args = [sys.executable, "-c", "from twin.cli import main; main()", "serve", "--db", db, "--port", "0",
            "--workers", str(workers), "--rate-limit", "0", "--max-in-flight", "256", *EXTRA_SERVE_ARGS]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=open(log, "ab"), start_new_session=True, env=_env(), cwd=ROOT)  # noqa: SIM115
    assert proc.stdout is not None
    m = re.search(r"serving on (http://\S+)", proc.stdout.readline().decode())
    if not m:
        raise SystemExit(f"server did not start; see {log}")
    url = m.group(1)
    import httpx

    for _ in range(300):
        try:
            if httpx.get(url + "/health", timeout=1.0, trust_env=False).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.1)
    raise SystemExit(f"server did not answer; see {log}")


def server_cpu_seconds(proc: subprocess.Popen[bytes]) -> float:
    """CPU seconds of every process of the server's session (workers included)."""
    return session_cpu_seconds(proc.pid)


def sequential_cpu(proc: subprocess.Popen[bytes], url: str, token: str, cases: int = 150, health: int = 1500) -> dict[str, float]:
    """Server CPU ms per request with one client on one keep-alive connection, one request at a time."""
    import http.client

    host, _, port = url.removeprefix("http://").partition(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    auth = {"Authorization": "Bearer " + token, "Content-Type": "application/json"}

    def call(method: str, path: str, body: Any = None, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
        conn.request(method, path, body=None if body is None else json.dumps(body), headers=headers or {})
        r = conn.getresponse()
        return r.status, r.read()

    steps = (("accept", {}), ("dispatch", {"assignees": ["board:民生服务"]}), ("resolve", {"note": "done"}),
             ("verify", {}), ("close", {}), ("evaluate", {"satisfaction": 5}))
    for _ in range(200):
        call("GET", "/health")  # warm up
    c0 = server_cpu_seconds(proc)
    for _ in range(health):
        call("GET", "/health")
    c1 = server_cpu_seconds(proc)
    n = 0
    for _ in range(cases):
        st, body = call("POST", "/cases", {"category": "environment", "tier": "T1", "grid": "G1", "community": "C1", "street": "S1", "district": "D"}, auth)
        n += 1
        assert st == 201, body
        case = json.loads(body)
        version = case["version"]
        for action, b in steps:
            st, body = call("POST", f"/cases/{case['id']}/{action}", b, {**auth, "If-Match": f'"{version}"'})
            n += 1
            assert st == 200, body
            version = json.loads(body)["version"]
    c2 = server_cpu_seconds(proc)
    conn.close()
    return {"health_cpu_ms": round((c1 - c0) * 1e3 / health, 3), "lifecycle_cpu_ms": round((c2 - c1) * 1e3 / n, 3)}


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def locust(url: str, locustfile: Path, out: Path, users: int, seconds: float, env: dict[str, str]) -> dict[str, float]:
    """One headless Locust run; the Aggregated row of its stats CSV."""
    prefix = out / f"run{time.monotonic_ns()}"
    cmd = [str(Path(sys.executable).with_name("locust")), "-f", str(locustfile), "--headless", "--host", url,
           "-u", str(users), "-r", str(users), "-t", f"{int(seconds)}s", "--csv", str(prefix), "--only-summary",
           "--stop-timeout", "5", "--loglevel", "ERROR"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    db0, busy0 = postgres_cpu_seconds(), machine_ticks()
    subprocess.run(cmd, env={**_env(), **env}, cwd=out, capture_output=True, timeout=seconds + 120)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    db1, busy1 = postgres_cpu_seconds(), machine_ticks()
    with open(f"{prefix}_stats.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    agg = next(r for r in rows if r["Name"] == "Aggregated")
    fails = float(agg["Failure Count"])
    return {
        "rps": float(agg["Requests/s"]),
        "requests": float(agg["Request Count"]),
        "failures": fails,
        "p50": float(agg["50%"] or 0),
        "p95": float(agg["95%"] or 0),
        "p99": float(agg["99%"] or 0),
        # the load generator's own CPU (the Locust process, a waited-for child of this one)
        "locust_cpu_s": (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime),
        "database_cpu_s": db1 - db0,
        "machine_busy": 1.0 - (busy1[0] - busy0[0]) / max(1, busy1[1] - busy0[1]),
    }


def _per_request(runs: list[dict[str, float]], key: str) -> float | None:
    n = sum(r["requests"] for r in runs)
    return round(sum(r[key] for r in runs) * 1e3 / n, 3) if n else None


def measure(name: str, db: str, workers: int, users: int, seconds: float, out: Path, repeat: int = 3) -> dict[str, Any]:
    from twin.service.auth import Principal, Role, ScopeKind, new_token, token_hash
    from twin.service.storage import open_service_store

    store = open_service_store(db)
    token = new_token()
    store.add_token(token_hash(token), Principal("bench-admin", Role.ADMIN, ScopeKind.DISTRICT, "D"), time.time())
    store.close()
    lf = out / "locustfile.py"
    lf.write_text(LOCUSTFILE, encoding="utf-8")
    proc, url = start_server(db, workers, out / f"{name}-serve.log")
    try:
        base = {"GT_TOKEN": token}
        seq = sequential_cpu(proc, url, token)
        healths: list[dict[str, float]] = []
        lives: list[dict[str, float]] = []
        cpu_health = cpu_life = 0.0
        for _ in range(repeat):  # alternate, so a slow spell of the machine hits both alike
            c0 = server_cpu_seconds(proc)
            healths.append(locust(url, lf, out, users, seconds, {**base, "GT_HEALTH": "1", "GT_LIFECYCLE": "0"}))
            c1 = server_cpu_seconds(proc)
            lives.append(locust(url, lf, out, users, seconds, {**base, "GT_HEALTH": "0", "GT_LIFECYCLE": "1"}))
            c2 = server_cpu_seconds(proc)
            cpu_health += c1 - c0
            cpu_life += c2 - c1
        ratios = sorted(li["rps"] / h["rps"] for h, li in zip(healths, lives, strict=True) if h["rps"])
        health = {"rps": statistics.median(h["rps"] for h in healths), "requests": sum(h["requests"] for h in healths)}
        life = {
            "rps": statistics.median(li["rps"] for li in lives),
            "requests": sum(li["requests"] for li in lives),
            "failures": sum(li["failures"] for li in lives),
        }
        # 80 % of the maximum: each user runs a lifecycle (7 requests) at a fixed rate
        rate = 0.8 * life["rps"] / 7.0 / users
        at80 = locust(url, lf, out, users, seconds, {**base, "GT_HEALTH": "0", "GT_LIFECYCLE": "1", "GT_TASK_RATE": f"{rate:.6f}"})
    finally:
        stop(proc)
    res = {
        "lifecycle_rps": round(life["rps"], 1),
        "health_rps": round(health["rps"], 1),
        "ratio": round(statistics.median(ratios), 3) if ratios else None,
        "ratios": [round(r, 3) for r in ratios],
        "p50_ms_at_80pct": at80["p50"],
        "p95_ms_at_80pct": at80["p95"],
        "p99_ms_at_80pct": at80["p99"],
        "rps_at_80pct": round(at80["rps"], 1),
        "lifecycle_failures": life["failures"] + at80["failures"],
        "health_cpu_ms_seq": seq["health_cpu_ms"],
        "lifecycle_cpu_ms_seq": seq["lifecycle_cpu_ms"],
        "health_cpu_ms_load": round(cpu_health * 1e3 / health["requests"], 3) if health["requests"] else None,
        "lifecycle_cpu_ms_load": round(cpu_life * 1e3 / life["requests"], 3) if life["requests"] else None,
        # where the rest of the machine went (server, database and Locust share its cores)
        "health_locust_cpu_ms": _per_request(healths, "locust_cpu_s"),
        "lifecycle_locust_cpu_ms": _per_request(lives, "locust_cpu_s"),
        "lifecycle_database_cpu_ms": _per_request(lives, "database_cpu_s"),
        "health_machine_busy": round(statistics.median(h["machine_busy"] for h in healths), 3),
        "lifecycle_machine_busy": round(statistics.median(li["machine_busy"] for li in lives), 3),
        "repeat": repeat,
        "workers": workers,
        "users": users,
        "seconds": seconds,
    }
    print(f"{name:10s} health {res['health_rps']:8.1f} rps | lifecycle {res['lifecycle_rps']:8.1f} rps | ratio {res['ratio']} "
          f"(median of {res['ratios']}) | "
          f"at 80 %: {res['rps_at_80pct']} rps, p50 {res['p50_ms_at_80pct']} ms, p95 {res['p95_ms_at_80pct']} ms, "
          f"p99 {res['p99_ms_at_80pct']} ms | failures {res['lifecycle_failures']:.0f} | server CPU ms/request "
          f"sequential: health {res['health_cpu_ms_seq']}, lifecycle {res['lifecycle_cpu_ms_seq']}; "
          f"under load: health {res['health_cpu_ms_load']}, lifecycle {res['lifecycle_cpu_ms_load']} | Locust CPU ms/request: "
          f"health {res['health_locust_cpu_ms']}, lifecycle {res['lifecycle_locust_cpu_ms']} | database CPU ms/lifecycle request "
          f"{res['lifecycle_database_cpu_ms']} | machine busy: health {res['health_machine_busy']:.0%}, "
          f"lifecycle {res['lifecycle_machine_busy']:.0%}", flush=True)
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--duration", type=float, default=15.0, help="seconds per Locust run (2 x repeat + 1 runs per database)")
    ap.add_argument("--users", type=int, default=32, help="concurrent Locust users")
    ap.add_argument("--repeat", type=int, default=3, help="health/lifecycle pairs per database (medians are reported)")
    ap.add_argument("--workers", type=int, default=1, help="server worker processes")
    ap.add_argument("--pg-url", default=os.environ.get("GRIDTWIN_PG_URL"), help="PostgreSQL URL (default: $GRIDTWIN_PG_URL)")
    ap.add_argument("--no-group-commit", action="store_true", help="one durable commit per request")
    ap.add_argument("--committers", type=int, default=0, help="group-commit threads per worker (0: the server's default)")
    ap.add_argument("--skip-sqlite", action="store_true", help="measure PostgreSQL only")
    ap.add_argument("--skip-postgresql", action="store_true", help="measure SQLite only")
    a = ap.parse_args()
    if a.no_group_commit:
        EXTRA_SERVE_ARGS.append("--no-group-commit")
    if a.committers:
        EXTRA_SERVE_ARGS.extend(["--committers", str(a.committers)])
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="gt-bench-") as tmp:
        t = Path(tmp)
        out["sqlite"] = None if a.skip_sqlite else measure("sqlite", str(t / "bench.db"), a.workers, a.users, a.duration, t, a.repeat)
        if a.pg_url and not a.skip_postgresql:
            import psycopg

            name = f"gt_bench_{os.getpid()}"
            with psycopg.connect(a.pg_url, autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE "{name}"')
            try:
                base, _, rest = a.pg_url.rpartition("/")
                q = rest.partition("?")[2]
                out["postgresql"] = measure("postgresql", f"{base}/{name}" + (f"?{q}" if q else ""), a.workers, a.users, a.duration, t, a.repeat)
            finally:
                with psycopg.connect(a.pg_url, autocommit=True) as conn:
                    conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        else:
            print("postgresql: skipped (no --pg-url / GRIDTWIN_PG_URL)", flush=True)
            out["postgresql"] = None
    print(json.dumps(out))


if __name__ == "__main__":
    main()
