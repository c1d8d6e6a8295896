"""``twin loadtest`` end to end: real ``twin serve`` (uvicorn) and real Locust processes on
loopback, short runs. Each run's own output directory names every process it started
(pids.json) and appears in their command lines, so we can check none is left behind."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
import zlib
from pathlib import Path
from typing import Any

import pytest
from scipy import stats

ROOT = Path(__file__).resolve().parents[2]
SCENARIO = ROOT / "scenarios" / ("flood.toml" if (ROOT / "scenarios" / "flood.toml").exists() else "street.toml")
TWIN = [sys.executable, "-c", "from twin.cli import main; main()"]



def _default_sigint() -> None:
    """In the child: Ctrl-C as a terminal delivers it, even when pytest runs in a background
    job (whose children inherit an ignored SIGINT)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)

def loadtest(out: Path, *args: str, timeout: float = 240.0) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*TWIN, "loadtest", *args, "--out", str(out)], capture_output=True, text=True, timeout=timeout, cwd=out.parent)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie not yet reaped by init is gone for our purposes
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


def leftovers(out: Path) -> list[str]:
    """Processes whose command line mentions ``out`` (the service's --db, Locust's --csv)."""
    found = []
    me = os.getpid()
    for p in Path("/proc").iterdir():
        if not p.name.isdigit() or int(p.name) == me:
            continue
        try:
            cmd = (p / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            state = (p / "stat").read_text().split()[2]
        except OSError:
            continue
        if str(out) in cmd and state != "Z":
            found.append(f"{p.name}: {cmd}")
    return found


def assert_nothing_left(out: Path) -> None:
    pids = json.loads((out / "pids.json").read_text())
    assert pids, "the run recorded the processes it started"
    deadline = time.monotonic() + 5.0
    while time.monotonic() < deadline and (any(alive(p) for p in pids.values()) or leftovers(out)):
        time.sleep(0.1)
    assert not [n for n, p in pids.items() if alive(p)]
    assert not leftovers(out)


def pooled(expected: list[int], observed: list[int], least: int = 5) -> tuple[list[int], list[int]]:
    """Adjacent windows merged until each expects at least ``least`` arrivals — the usual
    condition for the normal and chi-square approximations of Poisson counts."""
    e_out: list[int] = []
    o_out: list[int] = []
    e = o = 0
    for ei, oi in zip(expected, observed, strict=True):
        e, o = e + ei, o + oi
        if e >= least:
            e_out.append(e)
            o_out.append(o)
            e = o = 0
    if e or o:
        if e_out:
            e_out[-1] += e
            o_out[-1] += o
        else:
            e_out, o_out = [e], [o]
    return e_out, o_out


def poisson_ok(expected: list[int], observed: list[int], alpha: float = 0.01) -> tuple[bool, str]:
    """Each (pooled) window within the Poisson noise of the scenario's count — |o − e| ≤ z·√e
    with z Bonferroni-corrected over the windows — and all of them together by a chi-square
    test, both at level ``alpha``."""
    expected, observed = pooled(expected, observed)
    k = len(expected)
    z = stats.norm.ppf(1.0 - alpha / (2.0 * k))
    worst = max(abs(o - e) / math.sqrt(e) for e, o in zip(expected, observed, strict=True))
    chi2 = sum((o - e) ** 2 / e for e, o in zip(expected, observed, strict=True))
    crit = stats.chi2.ppf(1.0 - alpha, k)
    return worst <= z and chi2 <= crit, f"{k} windows: worst |o-e|/sqrt(e) {worst:.2f} (limit {z:.2f}), chi2 {chi2:.1f} (limit {crit:.1f})"


def test_pooling_keeps_totals_and_the_check_can_fail() -> None:
    e, o = pooled([3, 2, 0, 2, 3, 40, 0, 1], [3, 1, 1, 2, 3, 30, 8, 3])
    assert sum(e) == 51 and sum(o) == 51 and min(e) >= 5
    assert poisson_ok([50, 50, 50], [50, 48, 53])[0]
    assert not poisson_ok([50, 50, 50], [50, 20, 80])[0]  # a shape that lags by a window is caught


@pytest.fixture(scope="module")
def main_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess[str], dict[str, Any]]:
    """One day's arrivals of the street (plus more devices) in 40 s; half the device alerts
    lose their first reply (the case is made, the device never hears), so they must retry."""
    out = tmp_path_factory.mktemp("lt") / "main"
    cp = loadtest(
        out, str(ROOT / "scenarios" / "street.toml"), "--duration", "40s", "--speedup", "2160", "--start-day", "3",
        "--users", "20", "--drain", "10", "--set", "devices.sos_callers=3000", "--set", "devices.facility_sensors=600",
        "--device-lost-replies", "0.5", "--fail-if", "p99_ms>=0", "--fail-if", "requests<1",
    )
    assert cp.returncode in (0, 1), cp.stderr[-3000:]
    return out, cp, json.loads((out / "loadtest.json").read_text())


@pytest.mark.slow
def test_shape_reproduces_the_arrival_counts_within_poisson_noise(main_run: tuple) -> None:
    out, cp, r = main_run
    arr = r["arrivals"]
    assert arr["scheduled_total"] > 50  # enough arrivals for the check to mean something
    # what the shape sent, by first send time (the platform's answer time is the platform's business)
    assert arr["sent_total"] == arr["scheduled_total"]
    ok, why = poisson_ok(arr["expected"], arr["sent"])
    assert ok, f"{why}; expected {arr['expected']}, sent {arr['sent']}"
    assert arr["reported_total"] == arr["scheduled_total"]  # and every one reached the platform


@pytest.mark.slow
def test_device_retries_never_create_duplicates(main_run: tuple) -> None:
    out, cp, r = main_run
    assert r["arrivals"]["duplicates"] == {}
    plan = json.loads((out / "plan.json").read_text())
    devices = {a["ref"] for a in plan["arrivals"] if a["kind"] == "device"}
    assert len(devices) > 10
    # the injected lost replies, chosen by alert, forced exactly one resend of each chosen alert
    lost = {ref for ref in devices if zlib.crc32(ref.encode()) / 2**32 < 0.5}
    assert 0 < len(lost) < len(devices)
    assert r["failures_by_kind"].get("lost_reply", 0) == len(lost), r["failures_by_kind"]
    import sqlite3

    db = sqlite3.connect(out / "service.db")
    refs = [json.loads(d)["description"].split("#ref:")[1] for (d,) in db.execute("SELECT doc FROM cases")]
    db.close()
    assert sorted(x for x in refs if x in devices) == sorted(devices)  # each alert exactly once


@pytest.mark.slow
def test_thresholds_set_the_exit_code_and_results_are_complete(main_run: tuple) -> None:
    out, cp, r = main_run
    assert cp.returncode == 1, cp.stdout
    checks = {t["threshold"]: t["failed"] for t in r["thresholds"]}
    assert checks == {"p99_ms>=0": True, "requests<1": False}
    assert "FAILED" in cp.stdout
    s = r["system"]
    assert s["requests"] > 0 and s["rps"] > 0 and s["p50_ms"] <= s["p95_ms"] <= s["p99_ms"]
    assert "POST POST /cases" in r["endpoints"] and "POST POST /cases/{id}/resolve" in r["endpoints"]
    lt, ps = r["kpis"]["load_test"], r["kpis"]["pure_simulation"]
    assert lt["cases"] == r["arrivals"]["scheduled_total"] == ps["cases"]
    assert lt["resolved"] > 0 and lt["on_time_rate"] is not None and r["kpis"]["engine_kpis_endpoint"]["cases_total"] == lt["cases"]
    ta = lt["time_actions"]
    assert set(ta) == {"extensions_requested", "extensions_approved", "suspensions", "reassignments", "replies"}
    assert all(v >= 0 for v in ta.values()) and ta["extensions_approved"] <= ta["extensions_requested"]
    assert r["comparison"] and (out / "report.html").stat().st_size > 10_000
    assert_nothing_left(out)


@pytest.mark.slow
def test_open311_adapter_drives_the_facade(tmp_path: Path) -> None:
    out = tmp_path / "o311"
    cp = loadtest(out, str(SCENARIO), "--target", "open311", "--duration", "10s", "--speedup", "4320", "--start-day", "0.33",
                  "--users", "4", "--drain", "2", "--fail-if", "error_rate>0.5")
    assert cp.returncode == 0, cp.stderr[-3000:] + cp.stdout
    r = json.loads((out / "loadtest.json").read_text())
    eps = r["endpoints"]
    posted = eps["POST POST /open311/v2/requests.json"]["requests"]
    assert posted >= r["arrivals"]["scheduled_total"] > 0
    assert eps["GET GET /open311/v2/requests/{id}.json"]["requests"] > 0
    assert not any(k.startswith(("GET GET /cases", "POST POST /cases")) for k in eps)  # only the facade was spoken to
    assert r["arrivals"]["reported_total"] == r["arrivals"]["scheduled_total"] and r["arrivals"]["duplicates"] == {}
    assert r["system"]["failures"] == 0
    assert_nothing_left(out)


@pytest.mark.slow
def test_ctrl_c_leaves_no_process_behind(tmp_path: Path) -> None:
    out = tmp_path / "int"
    out.mkdir()
    p = subprocess.Popen([*TWIN, "loadtest", str(SCENARIO), "--duration", "60s", "--users", "2", "--out", str(out)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=tmp_path, preexec_fn=_default_sigint)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            pids = json.loads((out / "pids.json").read_text()) if (out / "pids.json").exists() else {}
            if "locust" in pids and alive(pids["locust"]):
                break
            assert p.poll() is None, p.stderr.read() if p.stderr else ""
            time.sleep(0.2)
        time.sleep(3.0)
        p.send_signal(signal.SIGINT)
        p.wait(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert p.returncode == 130
    assert_nothing_left(out)


@pytest.mark.slow
def test_distributed_one_master_one_worker(tmp_path: Path) -> None:
    out = tmp_path / "dist"
    cp = loadtest(out, str(SCENARIO), "--duration", "20s", "--speedup", "2880", "--start-day", "3.3", "--users", "4",
                  "--drain", "5", "--locust-workers", "1")
    assert cp.returncode == 0, cp.stderr[-3000:]
    r = json.loads((out / "loadtest.json").read_text())
    assert set(r["locust_processes"]["pids"]) == {"service", "locust-master", "locust-worker-0"}
    assert r["system"]["requests"] > 0
    assert r["arrivals"]["reported_total"] == r["arrivals"]["scheduled_total"] > 0
    assert "POST POST /cases/{id}/accept" in r["endpoints"]  # the worker's staff users handled cases
    assert_nothing_left(out)


@pytest.mark.slow
@pytest.mark.postgres
def test_the_started_service_can_run_on_postgresql(tmp_path: Path) -> None:
    """``--db postgresql://…``: the run's cases land in that database; one that already holds
    cases is refused (exit 2, nothing deleted)."""
    import uuid

    import psycopg

    from tests.service.helpers import _swap_db, pg_base_url

    base = pg_base_url()
    name = f"gt_lt_{uuid.uuid4().hex[:8]}"
    url = _swap_db(base, name)
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        out = tmp_path / "pg"
        cp = loadtest(out, str(SCENARIO), "--db", url, "--duration", "10s", "--speedup", "4320", "--start-day", "0.33",
                      "--users", "4", "--drain", "3", "--fail-if", "error_rate>0.5")
        assert cp.returncode == 0, cp.stderr[-3000:] + cp.stdout
        r = json.loads((out / "loadtest.json").read_text())
        assert not (out / "service.db").exists()
        with psycopg.connect(url) as conn:
            stored = conn.execute("SELECT count(*) FROM engine_cases").fetchone()[0]
        assert stored == r["kpis"]["load_test"]["cases"] == r["arrivals"]["scheduled_total"] > 0
        assert_nothing_left(out)

        again = tmp_path / "again"
        cp = loadtest(again, str(SCENARIO), "--db", url, "--duration", "10s")
        assert cp.returncode == 2 and "expected an empty database" in cp.stderr and f"found {stored} cases" in cp.stderr
        with psycopg.connect(url) as conn:
            assert conn.execute("SELECT count(*) FROM engine_cases").fetchone()[0] == stored
    finally:
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
