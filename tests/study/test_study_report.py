"""The study reports: figures and tables a planner and a researcher read."""

from __future__ import annotations

import math
from pathlib import Path

from mmc_double import MODEL, write_scenario
from scipy import stats as sps

from reports.study_report import compare_report, sweep_report
from twin.study.compare import run_compare
from twin.study.executors import InlineExecutor
from twin.study.spec import parse_target, parse_vary
from twin.study.sweep import run_sweep


def test_sweep_report_has_ci_bands_heatmap_and_utilisation(tmp_path: Path) -> None:
    sc = write_scenario(tmp_path, arrival_rate=1.0, service_mean=1.6, minutes=200.0)
    r = run_sweep(sc, [parse_vary("queue.servers=2:4:1"), parse_vary("queue.due_minutes=3,6")], 3, tmp_path / "s",
                  model=MODEL, executor=InlineExecutor(), target=parse_target("on_time_rate>=0.8"))
    assert not (r.out / "report.html").exists()  # the study writes data; the renderer is called on top
    html = sweep_report(r).read_text(encoding="utf-8")
    for name in ("kpi_vs_field", "heatmap_on_time_rate", "utilisation"):
        assert f'id="fig-{name}"' in html
        assert (r.out / "figures" / f"{name}.png").read_bytes()[:4] == b"\x89PNG"
    assert "on_time_rate&gt;=0.8 at queue.due_minutes=3" in html  # one finding per value of the second field
    assert "95 % t-CI" in html


def test_compare_report_has_verdicts_and_distributions(tmp_path: Path) -> None:
    base = write_scenario(tmp_path, "base.toml", servers=2, minutes=200.0)
    alt = tmp_path / "alt.toml"
    alt.write_text('[overlay]\nname = "alt"\nbase = "base.toml"\n[overlay.set]\nqueue.servers = 4\n')
    r = run_compare([base, alt], 5, tmp_path / "c", model=MODEL, executor=InlineExecutor())
    html = compare_report(r).read_text(encoding="utf-8")
    assert 'id="fig-distributions"' in html and 'id="fig-paired_differences"' in html
    assert "on_time_rate: alt better than base" in html


def test_erlang_c_matches_a_true_mmc_queue(tmp_path: Path) -> None:
    """On a genuine M/M/c queue the simulated mean wait lies on the Erlang C curve."""
    from twin.queueing import MMc
    from twin.study.erlang import erlang_curve

    sc = write_scenario(tmp_path, arrival_rate=1.0, service_mean=2.5, minutes=10000.0)
    r = run_sweep(sc, [parse_vary("queue.servers=3,4")], 6, tmp_path / "e", model=MODEL, executor=InlineExecutor())
    curve = erlang_curve(r.stats, "queue.servers", "utilisation.dispatcher", 2.5, "mean_wait")
    assert curve is not None
    util = r.stats[(r.stats["kpi"] == "utilisation.dispatcher") & (r.stats["queue.servers"] == 4)].iloc[0]
    # a = ρ·c at c = 4: its 95 % CI is the utilisation CI × 4, and must cover λ/μ = 2.5
    assert 4 * util["ci_low"] <= 2.5 <= 4 * util["ci_high"]
    waits = r.stats[r.stats["kpi"] == "mean_wait"]
    for row in waits.to_dict("records"):
        exact = MMc(1.0, 1 / 2.5, int(row["queue.servers"])).mean_wait
        # 97.5 % t-interval per point (Bonferroni over the two points: ≥ 95 % jointly)
        half = sps.t.ppf(1 - 0.025 / 2, row["n"] - 1) * row["sd"] / math.sqrt(row["n"])
        assert abs(row["mean"] - exact) <= half, (row, exact)
    html = sweep_report(r).read_text(encoding="utf-8")
    assert 'id="fig-erlang_queue_servers"' in html and "Erlang C beside the simulated curve" in html
