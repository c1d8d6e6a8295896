"""The switchover under load (issue 19), end to end: real ``twin serve`` and real Locust play the
flood's mode change and its mobilised members; ``twin capacity`` finds a knee with real open-loop
steps. Runs are scaled down; the knee's value is the machine's business, so only its presence,
its curve and a saturation verdict are checked."""

from __future__ import annotations

import json
import sqlite3
import subprocess
from pathlib import Path

import pytest

from tests.loadtest.test_loadtest_e2e import ROOT, TWIN, assert_nothing_left, loadtest
from twin.loadtest.knee import SATURATION
from twin.loadtest.mobilisation import loses_first_reply, read_mob_logs

FLOOD = ROOT / "scenarios" / "flood.toml"


def twin(*args: str, cwd: Path, timeout: float = 240.0) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*TWIN, *args], capture_output=True, text=True, timeout=timeout, cwd=cwd)


@pytest.mark.slow
def test_the_flood_switch_and_its_members_are_played_without_duplicate_checkins(tmp_path: Path) -> None:
    """A third of a simulated day around the flood's 应下尽下 in 20 s: POST /mode at the model's
    switch, a sampled share of the members called up check in; half of them lose their first
    reply and send again with the same key — the platform still holds one check-in per member.
    What the platform recorded is checked against what the members sent and heard (from their
    own notes), so a slow machine changes the counts, never the verdict."""
    out = tmp_path / "storm"
    cp = loadtest(out, str(FLOOD), "--duration", "20s", "--speedup", "1440", "--start-day", "3.0", "--users", "4",
                  "--drain", "6", "--members-scale", "0.3", "--checkin-lost-replies", "0.5", "--fail-if", "checkin_duplicates>0")
    assert cp.returncode == 0, cp.stderr[-3000:] + cp.stdout
    r = json.loads((out / "loadtest.json").read_text())
    mob = r["mobilisation"]
    plan = json.loads((out / "plan.json").read_text())
    assert [s["mode"] for s in plan["mode_steps"]] == ["emergency"]
    assert [p["mode"] for p in mob["mode_posts"]] == ["emergency"] and mob["mode_posts"][0]["status"] == 200
    members = {m["member_id"] for m in plan["members"]}
    assert mob["called"] == len(members) > 20 and mob["expected_members"] >= len(members)
    notes = read_mob_logs(out)
    sent = {n[1] for n in notes if n[0] == "checkin"}
    heard = {n[1] for n in notes if n[0] == "checkin" and n[2] in ("200", "201")}
    assert heard <= sent <= members and len(heard) > len(members) // 2
    db = sqlite3.connect(out / "service.db")
    rows = db.execute("SELECT member_id, count(*) FROM mob_checkins GROUP BY member_id").fetchall()
    db.close()
    recorded = {m for m, _ in rows}
    assert all(n == 1 for _, n in rows) and heard <= recorded <= sent  # one record per member, however often sent
    assert mob["checked_in"] == len(recorded) and mob["checked_in_by_load_test"] == len(heard)
    assert mob["duplicates"] == 0
    # the injected lost replies, chosen by member: every chosen member who got a reply lost the first
    lost = {m for m in heard if loses_first_reply(m, 0.5)}
    assert 0 < len(lost) < len(heard) and mob["lost_replies"] == len(lost)
    assert mob["checkin_p50_ms"] is not None and mob["checkin_rps_peak"] > 0
    assert mob["minutes_to_50pct"]["simulation"] is not None
    assert sum(mob["storm"]["checkins"]) == len(heard)
    assert "POST POST /mobilisation/checkins" in r["endpoints"] and "GET GET /mobilisation/tasks?status=open" in r["endpoints"]
    assert "the check-in storm" in (out / "report.html").read_text()
    assert_nothing_left(out)


def knee_run(tmp_path: Path, *extra: str) -> tuple[subprocess.CompletedProcess[str], dict]:
    out = tmp_path / "knee"
    cp = twin("capacity", "--scenario", str(FLOOD), "--out", str(out), "--start-rps", "20", "--factor", "2", "--max-rps", "40",
              "--step-seconds", "2", "--warmup", "0.5", "--p99-ms", "60000", "--error-rate", "0.5", *extra, cwd=tmp_path)
    assert cp.returncode == 0, cp.stderr[-3000:] + cp.stdout
    return cp, json.loads((out / "capacity.json").read_text())


def check_knee(cp: subprocess.CompletedProcess[str], r: dict, out: Path) -> None:
    assert r["knee_rps"] == 40.0 and r["reached_max"]  # generous limits: the highest rate tried is the knee
    assert [c["rate"] for c in r["curve"]] == [20.0, 40.0] and all(c["sustained"] for c in r["curve"])
    assert all(c["requests"] > 0 and c["p99_ms"] is not None for c in r["curve"])
    sat = r["saturation"]
    assert sat["first"] in {name for name, _ in SATURATION} | {None} and sat["explanation"]
    assert set(sat["indicators"]) == {name for name, _ in SATURATION}
    assert all(len(v) == 2 for v in sat["indicators"].values())
    assert all(c["server"]["cpu_from_metrics"] == 1.0 for c in r["curve"])  # every worker's CPU from GET /metrics
    assert "knee: 40.0 requests/s" in cp.stdout and "saturated first:" in cp.stdout
    assert "step 1 [ramp]" in cp.stderr  # progress while it runs
    assert (out / "report.html").stat().st_size > 5_000
    assert_nothing_left(out)


@pytest.mark.slow
def test_capacity_reports_a_knee_and_a_saturation_verdict(tmp_path: Path) -> None:
    cp, r = knee_run(tmp_path, "--mix", "checkin")
    assert r["db"] == "sqlite" and r["mix"] == "checkin"
    check_knee(cp, r, tmp_path / "knee")


@pytest.mark.slow
@pytest.mark.postgres
def test_capacity_runs_on_postgresql(tmp_path: Path) -> None:
    from tests.service.helpers import fresh_pg_database

    with fresh_pg_database() as url:
        cp, r = knee_run(tmp_path, "--mix", "storm", "--db", url)
        assert r["db"] == "postgresql"
        check_knee(cp, r, tmp_path / "knee")


@pytest.mark.parametrize(
    ("args", "names"),
    [
        (["capacity", "--mix", "peak"], "--mix"),
        (["capacity", "--start-rps", "100", "--max-rps", "10"], "--max-rps"),
        (["loadtest", "--members-scale", "0"], "--members-scale"),
        (["loadtest", "--checkin-lost-replies", "2"], "--checkin-lost-replies"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path: Path, args: list[str], names: str) -> None:
    cp = twin(*args, "--out", str(tmp_path / "o"), cwd=tmp_path, timeout=60)
    assert cp.returncode == 2, cp.stderr
    assert names in cp.stderr and "Traceback" not in cp.stderr and len(cp.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "o" / "pids.json").exists()  # nothing was started
