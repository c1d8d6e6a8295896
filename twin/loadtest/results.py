"""Reading a load test back: Locust's CSVs, the engine's cases and KPIs, the comparison with a
pure simulation of the same scenario and seed, and the pass/fail thresholds.
"""

from __future__ import annotations

import csv
import json
import math
import operator
import re
import urllib.parse
import urllib.request
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from twin.engine.kpi import by_due
from twin.loadtest.plan import Plan, ref_of
from twin.service.times import CASE_TIME_FIELDS, minutes_of

ACTIVE = {"reported", "accepted", "dispatched", "in_progress", "reopened"}


# ---------------------------------------------------------------------- Locust CSVs
def _num(x: str | None) -> float | None:
    if x is None or x == "" or x == "N/A":
        return None
    try:
        return float(x)
    except ValueError:
        return None


def _rows(path: Path) -> list[dict[str, str]]:
    if not path.exists():
        return []
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def failure_kind(error: str) -> str:
    """A failure message as a kind: ``http_503``, ``timeout``, ``lost_reply`` (injected), ``connection`` or ``other``."""
    m = re.search(r"HTTP (\d{3})", error)
    if m:
        return f"http_{m.group(1)}"
    low = error.lower()
    if "lost reply" in low:
        return "lost_reply"
    if "timeout" in low or "timed out" in low:
        return "timeout"
    if "connection" in low or "refused" in low or "reset" in low or "broken pipe" in low:
        return "connection"
    return "other"


def read_locust(prefix: Path) -> dict[str, Any]:
    """Per-endpoint figures, the aggregate, failures by kind and the history (from --csv)."""
    endpoints: dict[str, dict[str, Any]] = {}
    aggregate: dict[str, Any] = {}
    for r in _rows(Path(f"{prefix}_stats.csv")):
        fig = {
            "requests": int(_num(r.get("Request Count")) or 0),
            "failures": int(_num(r.get("Failure Count")) or 0),
            "rps": _num(r.get("Requests/s")) or 0.0,
            "avg_ms": _num(r.get("Average Response Time")),
            "p50_ms": _num(r.get("50%")),
            "p95_ms": _num(r.get("95%")),
            "p99_ms": _num(r.get("99%")),
            "max_ms": _num(r.get("Max Response Time")),
        }
        if r.get("Name") == "Aggregated":
            aggregate = fig
        else:
            endpoints[f"{r.get('Type', '')} {r.get('Name', '')}".strip()] = fig
    kinds: Counter[str] = Counter()
    failures = []
    for r in _rows(Path(f"{prefix}_failures.csv")):
        n = int(_num(r.get("Occurrences")) or 0)
        kinds[failure_kind(r.get("Error", ""))] += n
        failures.append({"endpoint": f"{r.get('Method', '')} {r.get('Name', '')}", "error": r.get("Error", ""), "count": n})
    history = []
    for r in _rows(Path(f"{prefix}_stats_history.csv")):
        if r.get("Name") != "Aggregated":
            continue
        history.append(
            {
                "t": _num(r.get("Timestamp")),
                "users": _num(r.get("User Count")),
                "rps": _num(r.get("Requests/s")),
                "fps": _num(r.get("Failures/s")),
                "p50_ms": _num(r.get("50%")),
                "p95_ms": _num(r.get("95%")),
                "p99_ms": _num(r.get("99%")),
            }
        )
    req = aggregate.get("requests", 0)
    aggregate["error_rate"] = (aggregate.get("failures", 0) / req) if req else 0.0
    return {"endpoints": endpoints, "aggregate": aggregate, "failures_by_kind": dict(kinds), "failures": failures, "history": history}


# ---------------------------------------------------------------------- the service
def get_json(url: str, token: str | None = None, timeout: float = 30.0) -> Any:
    """GET ``url`` and parse its JSON (stdlib only: the runtime needs no HTTP client package)."""
    headers = {"Accept": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=timeout) as r:  # noqa: S310 - our own URL
        return json.loads(r.read().decode("utf-8"))


def case_minutes(case: dict[str, Any]) -> dict[str, Any]:
    """A case from the service with its times (ISO 8601) as engine minutes, for the arithmetic
    and the comparison with the simulation's records below."""
    for k in CASE_TIME_FIELDS:
        v = case.get(k)
        if v is not None:
            case[k] = minutes_of(v, k)
    return case


def fetch_cases(url: str, token: str, page: int = 200, max_pages: int = 10_000) -> list[dict[str, Any]]:
    """Every case in the token's scope, page by page (bounded)."""
    out: list[dict[str, Any]] = []
    after: str | None = None
    for _ in range(max_pages):
        params: dict[str, Any] = {"limit": page}
        if after:
            params["after"] = after
        body = get_json(f"{url}/cases?{urllib.parse.urlencode(params)}", token)
        out += [case_minutes(c) for c in body["items"]]
        after = body.get("next_after")
        if not after:
            break
    return out


def fetch_kpis(url: str, token: str) -> dict[str, Any]:
    return dict(get_json(f"{url}/kpis", token))


# ---------------------------------------------------------------------- KPIs
def load_kpis(plan: Plan, cases: list[dict[str, Any]]) -> dict[str, Any]:
    """Operational KPIs of the load test in simulated terms (times stretched back by the speedup)."""
    real = [c for c in cases if c["state"] not in ("rejected", "merged")]
    resolved = [c for c in real if c.get("resolved_at") is not None]
    on_time = [plan.on_time(c["reported_at"], c["resolved_at"], c["tier"]) for c in resolved]
    hours = [(c["resolved_at"] - c["reported_at"]) * plan.speedup / 60.0 for c in resolved]
    levels = Counter(int(c["resolved_level"]) for c in resolved if c.get("resolved_level") is not None)
    n_lv = sum(levels.values())
    return {
        "cases": len(cases),
        "rejected": sum(c["state"] == "rejected" for c in cases),
        "merged": sum(c["state"] == "merged" for c in cases),
        "resolved": len(resolved),
        "backlog_end": sum(c["state"] in ACTIVE for c in cases),
        "on_time_rate": (sum(on_time) / len(on_time)) if on_time else None,
        "hours_to_resolve_p50": float(np.percentile(hours, 50)) if hours else None,
        "closed_at_level": {lv: (levels.get(i, 0) / n_lv if n_lv else None) for i, lv in enumerate(("grid", "community", "street", "district"))},
        "evaluated": sum(c["state"] == "evaluated" for c in cases),
        "on_time_rate_by_tier": _by_tier([(c["tier"], ok) for c, ok in zip(resolved, on_time, strict=True)]),
        "time_actions": time_action_counts(cases),
    }


#: The time actions (issue 12) a case body counts: extensions asked and granted, suspensions
#: (挂账), reassignments (改派); replies (答复) are the cases with a reply time.
TIME_ACTION_FIELDS = ("extensions_requested", "extensions_approved", "suspensions", "reassignments")


def time_action_counts(cases: list[dict[str, Any]]) -> dict[str, int]:
    """How many of each time action the staff users took, read back from the cases."""
    out = {f: sum(int(c.get(f) or 0) for c in cases) for f in TIME_ACTION_FIELDS}
    out["replies"] = sum(c.get("replied_at") is not None for c in cases)
    return out


def _by_tier(pairs: list[tuple[str, bool]]) -> dict[str, dict[str, float | int]]:
    out: dict[str, list[int]] = {}
    for tier, ok in pairs:
        rec = out.setdefault(str(tier), [0, 0])
        rec[0] += 1
        rec[1] += int(ok)
    return {t: {"n": n, "on_time_rate": k / n} for t, (n, k) in sorted(out.items())}


def sim_kpis(cases: pd.DataFrame, start_min: float, arrivals_end: float, end_min: float) -> dict[str, Any]:
    """The same KPIs from a pure simulation, over the incidents reported in the same window,
    as of the same simulated end time."""
    c = cases[(cases["reported_at"] >= start_min) & (cases["reported_at"] < arrivals_end)]
    state = c["state"].to_numpy()
    res = c["resolved_at"].to_numpy(dtype=float)
    rej = c["rejected_at"].to_numpy(dtype=float) if "rejected_at" in c else np.full(len(c), np.nan)
    merged = state == "merged"
    rejected = ~np.isnan(rej) & (rej <= end_min)
    real = ~merged & ~rejected
    done = real & ~np.isnan(res) & (res <= end_min)
    on_time = done & by_due(res, c["due_at"].to_numpy(dtype=float))
    lv = c["resolved_level"].to_numpy()
    hours = (res[done] - c["reported_at"].to_numpy(dtype=float)[done]) / 60.0
    n = int(done.sum())
    return {
        "cases": int(len(c)),
        "rejected": int(rejected.sum()),
        "merged": int(merged.sum()),
        "resolved": n,
        "backlog_end": int((real & ~done).sum()),
        "on_time_rate": float(on_time.sum() / n) if n else None,
        "hours_to_resolve_p50": float(np.percentile(hours, 50)) if n else None,
        "closed_at_level": {name: (float(((lv == i) & done).sum() / n) if n else None) for i, name in enumerate(("grid", "community", "street", "district"))},
        "on_time_rate_by_tier": _by_tier(list(zip(c["tier"].to_numpy()[done].tolist(), on_time[done].tolist(), strict=True))),
    }


def sim_backlog_series(cases: pd.DataFrame, start_min: float, arrivals_end: float, end_min: float, step: float) -> list[tuple[float, int]]:
    """Backlog over simulated time of the window's incidents in the pure simulation."""
    c = cases[(cases["reported_at"] >= start_min) & (cases["reported_at"] < arrivals_end) & (cases["state"] != "merged")]
    rep = c["reported_at"].to_numpy(dtype=float)
    out = c["resolved_at"].to_numpy(dtype=float)
    if "rejected_at" in c:
        out = np.where(np.isnan(out), c["rejected_at"].to_numpy(dtype=float), out)
    out = np.where(np.isnan(out), np.inf, out)
    ts = np.arange(start_min, end_min + step / 2, step)
    return [(float(t), int(((rep <= t) & (out > t)).sum())) for t in ts]


# ---------------------------------------------------------------------- arrivals check
def arrival_counts(plan: Plan, cases: list[dict[str, Any]], window_s: float, sent: dict[str, float] | None = None) -> dict[str, Any]:
    """Scheduled arrivals per wall window against those the shape sent (first send time) and
    those the platform recorded (report time of distinct incidents); and incidents that became
    more than one case."""
    n = max(1, math.ceil(plan.duration_s / window_s))
    expected = [0] * n
    for a in plan.arrivals:
        i = int(a.at_s // window_s)
        if 0 <= i < n:
            expected[i] += 1
    refs: Counter[str] = Counter()
    observed = [0] * n
    first: dict[str, float] = {}
    for c in cases:
        ref = ref_of(c.get("description"))
        if ref is None or plan.arrival(ref) is None:
            continue
        refs[ref] += 1
        t = c["reported_at"] * 60.0 - plan.t0_epoch
        first[ref] = min(first.get(ref, t), t)
    for t in first.values():
        i = int(t // window_s)
        observed[min(max(i, 0), n - 1)] += 1
    sent_counts = [0] * n
    for ref, t in (sent or {}).items():
        if plan.arrival(ref) is not None:
            sent_counts[min(max(int((t - plan.t0_epoch) // window_s), 0), n - 1)] += 1
    return {
        "window_s": window_s,
        "expected": expected,
        "sent": sent_counts,
        "sent_total": len(sent or {}),
        "observed": observed,
        "scheduled_total": len(plan.arrivals),
        "reported_total": len(first),
        "duplicates": {r: k for r, k in refs.items() if k > 1},
    }


# ---------------------------------------------------------------------- comparison
def explain(plan: Plan, load: dict[str, Any], sim: dict[str, Any], agg: dict[str, Any], emergency: bool = False) -> list[str]:
    """Where the load test and the pure simulation differ, and why (in numbers)."""
    out = []
    sp = plan.speedup
    p50 = agg.get("p50_ms") or 0.0
    p95 = agg.get("p95_ms") or 0.0
    out.append(
        f"Server latency, stretched by the speedup ({sp:g}×): a median request of {p50:g} ms is "
        f"{p50 / 1000 * sp / 60:.2f} simulated minutes, a p95 request {p95 / 1000 * sp / 60:.2f}; a case passes through "
        f"5–12 requests (claim, start, resolve, verify, close, evaluate; more when escalated), so the platform itself adds that "
        f"to every case's simulated handling time — time the pure simulation does not have."
    )
    out.append(
        f"Time compression: staff poll their work lists every {plan.poll_s:.2f} s = {plan.poll_s * sp / 60:.1f} simulated minutes "
        f"(the model's stations start a case the moment a handler is free), and gevent sleeps are only as precise as the "
        f"Locust process is idle — on 2 cores Locust and the server share the CPU, so sleeps overrun under load."
    )
    out.append(
        "The engine's own timers run on wall time: its SLA due times and automatic escalation (allowance lapses) are not "
        "compressed, so the server's /kpis on-time rate is measured against uncompressed SLAs; the on-time rate reported here "
        "stretches each case's resolution time back by the speedup and compares it with the scenario's SLA tier. Lapse "
        "escalations that the model makes (queued past the allowance) therefore do not happen in the load test."
    )
    out.append(
        "Work is paused outside working hours in the model (a case begun at 17:20 finishes the next morning); Locust staff only "
        "take new cases while on duty but finish a case they began. Party-member volunteers (双报到) of ordinary days are not "
        "played (their community cases go to community staff)"
        + ("; the members an emergency mobilises are" if plan.members else "")
        + ". Repeat complaints are replayed from the stream and merged by the grid worker."
    )
    if emergency and plan.mode_steps:
        out.append(
            f"Emergency switchover (常急转换): the scenario's {len(plan.mode_steps)} mode change(s) are played through POST /mode and "
            f"{len(plan.members)} mobilised members (×{plan.members_scale:g}) check in (报到) at the model's arrival times and take "
            "their team's tasks; the grid workers still handle every emergency case as well (the model's teams settle them), so "
            "the members' tasks load the platform without shortening the cases."
        )
    elif emergency:
        out.append(
            "Emergency switchover (常急转换): the model mobilises members and teams in 应下尽下 / 全员下沉 and switches the "
            "platform's mode; the load test keeps the scenario's normal staffing and sends every emergency incident through "
            "the grid workers, so the surge falls on them — which is the question 'does the normal staffing keep up'."
        )
    lt, st = load.get("on_time_rate_by_tier") or {}, sim.get("on_time_rate_by_tier") or {}
    parts = [f"{t} {lt[t]['on_time_rate']:.2f} vs {st[t]['on_time_rate']:.2f} (n {lt[t]['n']}/{st[t]['n']})" for t in sorted(set(lt) & set(st))]
    if parts:
        out.append("On time by SLA tier, load test vs simulation: " + "; ".join(parts) + ".")
    lo, so = load.get("on_time_rate"), sim.get("on_time_rate")
    if lo is not None and so is not None:
        d = lo - so
        out.append(
            f"On-time rate: load test {lo:.3f} vs simulation {so:.3f} ({d:+.3f}); backlog at the end: "
            f"{load['backlog_end']} vs {sim['backlog_end']} ({load['backlog_end'] - sim['backlog_end']:+d}) of "
            f"{load['cases']} vs {sim['cases']} cases."
        )
    return out


# ---------------------------------------------------------------------- thresholds
OPS = {">=": operator.ge, "<=": operator.le, ">": operator.gt, "<": operator.lt, "==": operator.eq}
THRESHOLD_RE = re.compile(r"^\s*([a-z0-9_]+)\s*(>=|<=|==|>|<)\s*(-?[0-9.eE+-]+)\s*$")
METRICS = ("p50_ms", "p95_ms", "p99_ms", "avg_ms", "max_ms", "rps", "error_rate", "failures", "requests",
           "backlog_end", "on_time_rate", "duplicates", "arrivals_missing", "checked_in", "checkin_duplicates", "checkin_p99_ms")


@dataclass(frozen=True)
class Threshold:
    """``--fail-if METRIC OP VALUE``: the run fails when the condition holds."""

    metric: str
    op: str
    value: float
    text: str

    def violated(self, metrics: dict[str, Any]) -> bool | None:
        v = metrics.get(self.metric)
        if v is None:
            return None
        return bool(OPS[self.op](float(v), self.value))


def parse_threshold(text: str) -> Threshold:
    m = THRESHOLD_RE.match(text)
    if not m:
        raise ValueError(f"--fail-if {text!r}: expected METRIC OP VALUE, e.g. p99_ms>200 (OP one of > < >= <= ==)")
    metric, op, raw = m.groups()
    if metric not in METRICS:
        raise ValueError(f"--fail-if {text!r}: unknown metric {metric!r}; expected one of {list(METRICS)}")
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"--fail-if {text!r}: expected a number after {op}, got {raw!r}") from None
    return Threshold(metric, op, value, text.strip())


def check(thresholds: list[Threshold], metrics: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {"threshold": t.text, "value": metrics.get(t.metric), "failed": t.violated(metrics)}
        for t in thresholds
    ]
