"""Sweeps on a small M/M/c test double: CRN seeds, tidy tables, resume, executors agree."""

from __future__ import annotations

import dataclasses
import json
import signal
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import psutil
import pytest
from mmc_double import MODEL, write_scenario

from twin.rng import replication_seed
from twin.study.errors import StudyError
from twin.study.executors import DaskExecutor, InlineExecutor, ProcessExecutor
from twin.study.spec import parse_target, parse_vary
from twin.study.sweep import run_sweep
from twin.study.tasks import Model, Task, code_fingerprint, run_task

VARY = [parse_vary("queue.servers=2:5:1")]



def _default_sigint() -> None:
    """In the child: Ctrl-C as a terminal delivers it, even when pytest runs in a background
    job (whose children inherit an ignored SIGINT)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)

def _sweep(tmp: Path, out: str, reps: int = 3, **kw: Any) -> Any:
    scenario = write_scenario(tmp, arrival_rate=1.0, service_mean=1.6, minutes=300.0)
    kw.setdefault("executor", InlineExecutor())
    model = kw.pop("model", MODEL)
    return run_sweep(scenario, kw.pop("varies", VARY), reps, tmp / out, model=model, seed=11, **kw)


def _kpis(df: pd.DataFrame) -> pd.DataFrame:
    return df.drop(columns=["wall_seconds"], errors="ignore").reset_index(drop=True)


def test_sweep_writes_tidy_tables_with_common_random_numbers(tmp_path: Path) -> None:
    r = _sweep(tmp_path, "s", target=parse_target("on_time_rate>=0.9"))
    assert len(r.results) == 4 * 3
    seeds = {k: replication_seed(11, k) for k in range(3)}
    for p in r.points:
        for k in range(3):
            s = json.loads((r.out / "reps" / p.id / f"r{k:04d}" / "summary.json").read_text())
            assert s["seed"] == seeds[k]  # replication k: the same seed at every point
    assert list(r.results.groupby("point")["seed"].apply(list)) == [list(seeds.values())] * 4
    on_disk = pd.read_parquet(r.out / "results.parquet")
    pd.testing.assert_frame_equal(on_disk, r.results)
    assert pd.read_csv(r.out / "results.csv").shape == r.results.shape
    st = pd.read_parquet(r.out / "stats.parquet")
    row = st[(st["kpi"] == "on_time_rate") & (st["queue.servers"] == 3)].iloc[0]
    vals = r.results.loc[r.results["queue.servers"] == 3, "on_time_rate"]
    assert row["mean"] == pytest.approx(vals.mean()) and row["n"] == 3
    assert json.loads((r.out / "target.json").read_text())[0]["field"] == "queue.servers"
    # more servers never hurt here; with the same seeds the curve is monotone in every replication
    wide = r.results.pivot(index="rep", columns="queue.servers", values="on_time_rate")
    assert (wide.diff(axis=1).iloc[:, 1:] >= -1e-12).all().all()


def test_resume_reuses_finished_replications_and_more_reps_extend(tmp_path: Path) -> None:
    first = _sweep(tmp_path, "s", reps=2)
    assert (first.ran, first.reused) == (8, 0)
    again = _sweep(tmp_path, "s", reps=2)
    assert (again.ran, again.reused) == (0, 8)
    more = _sweep(tmp_path, "s", reps=3)
    assert (more.ran, more.reused) == (4, 8)
    fresh = _sweep(tmp_path, "fresh", reps=3)
    pd.testing.assert_frame_equal(_kpis(more.results), _kpis(fresh.results))


def test_resume_refuses_replications_made_by_other_model_code(tmp_path: Path) -> None:
    first = _sweep(tmp_path, "s", reps=2)
    spec = json.loads((first.out / "study.json").read_text())
    assert spec["model_code"] == code_fingerprint(("mmc_double",)) is not None
    changed = dataclasses.replace(MODEL, sources=("mmc_double", "twin.queueing"))  # as if the model's code had changed
    with pytest.raises(StudyError, match="other model code"):
        _sweep(tmp_path, "s", reps=2, model=changed)
    assert json.loads((first.out / "study.json").read_text()) == spec  # nothing overwritten


def test_code_fingerprint_follows_the_source(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pkg = tmp_path / "fpkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "sub" / "rules.py").write_text("RATE = 1.0\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    a = code_fingerprint(("fpkg",))
    assert a == code_fingerprint(("fpkg",)) and len(a or "") == 16
    (pkg / "sub" / "rules.py").write_text("RATE = 1.5\n")
    assert code_fingerprint(("fpkg",)) != a
    assert code_fingerprint(()) is None
    with pytest.raises(ValueError, match="no module"):
        code_fingerprint(("no_such_module_here",))


class _Interrupted(Exception):
    pass


class _DiesAfter:
    """An executor that runs a few replications, then dies as a Ctrl-C or a crash would."""

    def __init__(self, n: int) -> None:
        self.n = n

    def describe(self) -> str:
        return "dies"

    def run(self, model: Model, tasks: Sequence[Task]) -> Iterator[tuple[Task, dict[str, Any]]]:
        for i, t in enumerate(tasks):
            if i == self.n:
                raise _Interrupted
            yield t, run_task(model, t)


def test_interrupted_sweep_resumes_to_the_same_result(tmp_path: Path) -> None:
    with pytest.raises(_Interrupted):
        _sweep(tmp_path, "s", executor=_DiesAfter(5))
    assert len(list((tmp_path / "s" / "reps").rglob("summary.json"))) == 5
    assert not list((tmp_path / "s").rglob("*.tmp"))
    resumed = _sweep(tmp_path, "s")
    assert (resumed.ran, resumed.reused) == (7, 5)
    pd.testing.assert_frame_equal(_kpis(resumed.results), _kpis(_sweep(tmp_path, "clean").results))


def test_directory_of_another_study_is_refused(tmp_path: Path) -> None:
    _sweep(tmp_path, "s", reps=1)
    with pytest.raises(StudyError, match="different study.*vary"):
        _sweep(tmp_path, "s", reps=1, varies=[parse_vary("queue.servers=2,3")])
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "x.txt").write_text("x")
    with pytest.raises(StudyError, match="not empty"):
        _sweep(tmp_path, "junk", reps=1)


def test_bad_vary_value_is_rejected_before_running(tmp_path: Path) -> None:
    with pytest.raises(StudyError) as e:
        _sweep(tmp_path, "s", varies=[parse_vary("queue.servers=0,1")])
    assert "--vary queue.servers=0" in str(e.value) and "integer ≥ 1" in str(e.value)
    assert not (tmp_path / "s").exists()
    with pytest.raises(StudyError, match="queue.nope"):
        _sweep(tmp_path, "s", varies=[parse_vary("queue.nope=1,2")])


def test_target_kpi_must_exist(tmp_path: Path) -> None:
    with pytest.raises(StudyError, match="not a KPI"):
        _sweep(tmp_path, "s", reps=1, target=parse_target("satisfaction_mean>=4"))


def _children() -> set[int]:
    """Live child processes, except multiprocessing's resource tracker and fork server (one per parent,
    kept for the next pool by design)."""
    out = set()
    for p in psutil.Process().children(recursive=True):
        try:
            if p.status() != psutil.STATUS_ZOMBIE and not any(k in " ".join(p.cmdline()) for k in ("resource_tracker", "forkserver")):
                out.add(p.pid)
        except psutil.NoSuchProcess:
            pass
    return out


def test_results_identical_whichever_executor(tmp_path: Path) -> None:
    inline = _sweep(tmp_path, "inline")
    before = _children()
    procs = _sweep(tmp_path, "procs", executor=ProcessExecutor(2))
    dask = _sweep(tmp_path, "dask", executor=DaskExecutor("local", study_key="t", workers=2))
    assert _children() - before == set()  # the worker pool and the LocalCluster are shut down
    pd.testing.assert_frame_equal(_kpis(inline.results), _kpis(procs.results))
    pd.testing.assert_frame_equal(_kpis(inline.results), _kpis(dask.results))
    for p in inline.points:
        a = json.loads((inline.out / "reps" / p.id / "r0002" / "summary.json").read_text())
        b = json.loads((dask.out / "reps" / p.id / "r0002" / "summary.json").read_text())
        a.pop("wall_seconds"), b.pop("wall_seconds")
        assert a == b


@pytest.mark.slow
def test_results_identical_on_an_existing_dask_cluster(tmp_path: Path) -> None:
    from distributed import LocalCluster

    inline = _sweep(tmp_path, "inline")

    # an existing cluster reached by address (--dask tcp://HOST:8786); the study leaves it running
    with LocalCluster(processes=True, n_workers=1, threads_per_worker=1, host="127.0.0.1",
                      dashboard_address=None) as cluster:
        remote = _sweep(tmp_path, "tcp", executor=DaskExecutor(cluster.scheduler_address, study_key="t"))
        assert cluster.scheduler_address.startswith("tcp://127.0.0.1:") and len(cluster.workers) == 1
    pd.testing.assert_frame_equal(_kpis(inline.results), _kpis(remote.results))


@pytest.mark.slow
def test_ctrl_c_stops_the_workers_and_a_rerun_resumes(tmp_path: Path) -> None:
    """A terminal's Ctrl-C (SIGINT to the whole process group) ends the sweep promptly, keeps what
    finished, and the same command then runs only the rest."""
    import os
    import subprocess
    import sys
    import time

    write_scenario(tmp_path, "slow.toml", arrival_rate=1.0, service_mean=1.6, minutes=40000.0)
    # 4 points × 2 replications, 2 at a time: stopped after the first 2 finish, at most the 2 running
    # then can still finish, so a Ctrl-C that did not stop the workers shows as all 8 kept
    total = 8
    out = tmp_path / "s"
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).parent))
    cmd = [sys.executable, "-c", "from twin.cli import main; main()", "sweep", "slow.toml", "--vary",
           "queue.servers=2:5:1", "--reps", "2", "--workers", "2", "--model", "mmc_double:MODEL", "--out", str(out),
           "--no-report"]
    proc = subprocess.Popen(cmd, cwd=tmp_path, env=env, start_new_session=True, preexec_fn=_default_sigint,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and len(list(out.rglob("summary.json"))) < 2:
            time.sleep(0.2)
        os.killpg(proc.pid, signal.SIGINT)
        assert proc.wait(timeout=60) != 0
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    kept = len(list(out.rglob("summary.json")))
    assert 2 <= kept < total and not list(out.rglob("*.tmp"))
    rerun = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900)
    assert rerun.returncode == 0, rerun.stderr
    assert f"{total - kept} replications run, {kept} reused" in rerun.stdout
