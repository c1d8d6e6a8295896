"""An open-loop load generator for one step of ``twin capacity``: sessions arrive on a clock.

Locust's users wait for each answer before they send the next request (a closed loop), so a
slow server throttles its own load. Here sessions (a case's lifecycle, a member's check-in …)
start at Poisson arrival times of the offered rate whatever the answers, each on its own
greenlet over a pool of keep-alive connections; the first request of a session is timed from
its *scheduled* start, so time spent waiting for a connection or a late scheduler counts
(no coordinated omission). The generator's own CPU is reported too: on a shared machine it
may be the generator, not the platform, that gives out first.

Run as a script by :mod:`twin.loadtest.capacity` (never imported by the core):
``python loadtests/openloop.py SPEC.json OUT.json``. SPEC: ``url``, ``rate`` (offered
requests a second), ``duration_s``, ``warmup_s``, ``mix`` (ordinary | storm | checkin),
``tokens`` (``admin``, ``app``), ``seed``, ``step``, ``run_id``, ``timeout_s``,
``connections``, ``places`` (grid/community/street/district rows), ``category``,
``emergency_category``. OUT: counts, latency percentiles, status counts, client CPU.
"""

from __future__ import annotations

from gevent import monkey

monkey.patch_all()

import json  # noqa: E402
import random  # noqa: E402
import resource  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections import Counter  # noqa: E402
from typing import Any  # noqa: E402

import gevent  # noqa: E402
import numpy as np  # noqa: E402
from geventhttpclient import HTTPClient  # noqa: E402
from geventhttpclient.url import URL  # noqa: E402

#: Requests in one session of each mix (the offered request rate is sessions/s × this).
SESSION_REQUESTS = {"ordinary": 7, "checkin": 1, "storm": 2}
LIFECYCLE = (
    ("accept", b"{}"),
    ("dispatch", json.dumps({"assignees": ["board:民生服务"]}).encode()),
    ("resolve", json.dumps({"note": "done"}).encode()),
    ("verify", b"{}"),
    ("close", b"{}"),
    ("evaluate", json.dumps({"satisfaction": 5}).encode()),
)


class Step:
    """One step: the sessions it starts and what their requests got back."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec
        url = URL(spec["url"])
        t = float(spec.get("timeout_s", 5.0))
        self.client = HTTPClient(url.host, url.port, concurrency=int(spec.get("connections", 256)),
                                 connection_timeout=t, network_timeout=t)
        self.admin = {"Authorization": f"Bearer {spec['tokens']['admin']}", "Content-Type": "application/json"}
        app = spec["tokens"].get("app") or spec["tokens"]["admin"]
        self.app = {"Authorization": f"Bearer {app}", "Content-Type": "application/json"}
        self.places = spec["places"]
        self.lat: list[float] = []
        self.status: Counter[str] = Counter()
        self.t0 = 0.0
        self.counted_from = 0.0

    def send(self, method: str, path: str, body: bytes | None, headers: dict[str, str], since: float) -> tuple[int, Any, bytes]:
        """One request; latency from ``since`` (a session's scheduled start, or the send)."""
        try:
            r = self.client.request(method, path, body=body or b"", headers=headers)
            data = r.read()
            code, hdrs = int(r.status_code), r
        except (gevent.Timeout, TimeoutError):
            code, hdrs, data = 0, None, b""
        except OSError:
            code, hdrs, data = -1, None, b""
        if since >= self.counted_from:
            self.lat.append((time.perf_counter() - since) * 1000.0)
            self.status["timeout" if code == 0 else "connection" if code < 0 else str(code)] += 1
        return code, hdrs, data

    # ---------------------------------------------------------------- sessions
    def ordinary(self, i: int, at: float) -> None:
        """A case's lifecycle: report, then accept … evaluate, each with If-Match (the ETag)."""
        p = self.places[i % len(self.places)]
        body = json.dumps({"category": self.spec["category"], "tier": "T1", **p}).encode()
        code, h, _ = self.send("POST", "/cases", body, self.admin, at)
        if code != 201 or h is None:
            return
        base, etag = str(h.get("location")) + "/", str(h.get("etag"))
        for action, b in LIFECYCLE:
            code, h, _ = self.send("POST", base + action, b, {**self.admin, "If-Match": etag}, time.perf_counter())
            if code != 200 or h is None:
                return
            etag = str(h.get("etag"))

    def checkin(self, i: int, at: float) -> str | None:
        """A new member's check-in (报到) through the app backend; returns the member token."""
        p = self.places[i % len(self.places)]
        member = f"{self.spec['run_id']}-s{self.spec['step']}-m{i}"
        h = {**self.app, "Idempotency-Key": f"{member}-checkin"}
        code, _, data = self.send("POST", "/mobilisation/checkins", json.dumps({"member_id": member, "community": p["community"]}).encode(), h, at)
        if code not in (200, 201):
            return None
        try:
            return str(json.loads(data)["member_token"])
        except (ValueError, KeyError, TypeError):
            return None

    def storm(self, i: int, at: float) -> None:
        """The storm: members check in and look at their tasks; residents report emergencies
        (tier E) and follow them — in turn."""
        if i % 2 == 0:
            tok = self.checkin(i, at)
            if tok:
                self.send("GET", "/mobilisation/tasks?status=open", None, {"Authorization": f"Bearer {tok}"}, time.perf_counter())
            return
        p = self.places[i % len(self.places)]
        body = json.dumps({"category": self.spec["emergency_category"], "tier": "E", "source": "app", **p}).encode()
        code, h, _ = self.send("POST", "/cases", body, self.admin, at)
        if code == 201 and h is not None:
            self.send("GET", str(h.get("location")), None, self.admin, time.perf_counter())

    # ---------------------------------------------------------------- the clock
    def run(self) -> dict[str, Any]:
        spec = self.spec
        mix = spec["mix"]
        session = {"ordinary": self.ordinary, "checkin": self.checkin, "storm": self.storm}[mix]
        per_s = float(spec["rate"]) / SESSION_REQUESTS[mix]
        rng = random.Random(f"{spec['seed']}:{spec['step']}")
        dur, warm = float(spec["duration_s"]), float(spec.get("warmup_s", 0.0))
        cpu0 = resource.getrusage(resource.RUSAGE_SELF)
        self.t0 = time.perf_counter()
        self.counted_from = self.t0 + warm
        greenlets = []
        lag: list[float] = []
        t, i = 0.0, 0
        while True:
            t += rng.expovariate(per_s)
            if t >= dur:
                break
            at = self.t0 + t
            wait = at - time.perf_counter()
            if wait > 0:
                gevent.sleep(wait)
            else:
                lag.append(-wait * 1000.0)
            greenlets.append(gevent.spawn(session, i, at))
            i += 1
        end = time.perf_counter()
        gevent.joinall(greenlets, timeout=float(spec.get("timeout_s", 5.0)) * 2 + 1.0)
        unfinished = sum(1 for g in greenlets if not g.dead)
        gevent.killall([g for g in greenlets if not g.dead], block=False)
        cpu1 = resource.getrusage(resource.RUSAGE_SELF)
        wall = time.perf_counter() - self.t0
        lat = np.asarray(self.lat) if self.lat else np.asarray([np.nan])
        ok = sum(n for k, n in self.status.items() if k.isdigit() and 200 <= int(k) < 300)
        answered = sum(self.status.values())
        window = max(1e-9, end - self.counted_from)

        def q(x: float) -> float | None:
            return None if not self.lat else round(float(np.percentile(lat, x)), 3)

        return {
            "rate": float(spec["rate"]),
            "sessions": i,
            "requests": answered,
            "ok": ok,
            "errors": answered - ok + unfinished,
            "error_rate": (answered - ok + unfinished) / max(1, answered + unfinished),
            "unfinished_sessions": unfinished,
            "achieved_rps": round(answered / window, 3),
            "p50_ms": q(50), "p95_ms": q(95), "p99_ms": q(99), "max_ms": q(100),
            "status": dict(sorted(self.status.items())),
            "scheduler_lag_ms_p99": round(float(np.percentile(lag, 99)), 3) if lag else 0.0,
            "client_cpu_s": round((cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime), 3),
            "wall_s": round(wall, 3),
        }


def main(argv: list[str]) -> int:
    with open(argv[1], encoding="utf-8") as f:
        spec = json.load(f)
    out = Step(spec).run()
    with open(argv[2], "w", encoding="utf-8") as f:
        json.dump(out, f)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
