"""Policy comparisons on the M/M/c test double: overlays, same seeds, paired verdicts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from mmc_double import MODEL, write_scenario

from twin.study.compare import run_compare
from twin.study.errors import StudyError
from twin.study.executors import InlineExecutor
from twin.study.policy import load_policy


def _policies(tmp: Path) -> tuple[Path, Path, Path]:
    base = write_scenario(tmp, "base.toml", arrival_rate=1.0, service_mean=1.6, servers=2, minutes=300.0)
    (tmp / "pol").mkdir()
    more = tmp / "pol" / "more.toml"
    more.write_text('[overlay]\nname = "three desks"\nbase = "../base.toml"\n[overlay.set]\nqueue.servers = 3\n')
    same = tmp / "pol" / "same.toml"
    same.write_text('[overlay]\nname = "same"\ndescription = "no change"\nbase = "../base.toml"\n')
    return base, more, same


def test_overlay_policy_becomes_overrides(tmp_path: Path) -> None:
    _, more, _ = _policies(tmp_path)
    p = load_policy(more)
    assert p.name == "three desks" and p.overrides == ("queue.servers=3",)
    assert p.scenario.path == str((tmp_path / "base.toml").resolve())
    bad = tmp_path / "bad.toml"
    bad.write_text('[overlay]\nbase = "nowhere.toml"\n')
    with pytest.raises(StudyError, match="overlay.base"):
        load_policy(bad)
    bad.write_text('[overlay]\nbasis = "x"\n')
    with pytest.raises(StudyError, match="overlay.basis: unknown key"):
        load_policy(bad)


def test_compare_pairs_seeds_and_names_the_better_policy(tmp_path: Path) -> None:
    base, more, same = _policies(tmp_path)
    r = run_compare([base, more, same], 8, tmp_path / "cmp", model=MODEL, seed=3, executor=InlineExecutor())
    assert r.units == ("base", "three-desks", "same")
    for k in range(8):  # the same seed for every policy
        seeds = {json.loads((r.out / "reps" / u / f"r{k:04d}" / "summary.json").read_text())["seed"] for u in r.units}
        assert len(seeds) == 1
    by = {(x["kpi"], x["a"], x["b"]): x for x in r.paired.to_dict("records")}
    better = by[("on_time_rate", "base", "three-desks")]
    assert better["better"] == "three-desks" and better["diff"] > 0 and better["ci_low"] > 0
    assert by[("backlog_end", "base", "three-desks")]["direction"] == "lower"
    identical = by[("on_time_rate", "base", "same")]
    assert identical["diff"] == 0 and identical["better"] == "none"  # same seeds, same scenario: same runs
    assert (r.out / "paired.parquet").exists() and (r.out / "paired.csv").exists()


def test_compare_rejects_too_few_and_clashing(tmp_path: Path) -> None:
    base, more, _ = _policies(tmp_path)
    with pytest.raises(StudyError, match="at least two"):
        run_compare([base], 5, tmp_path / "x", model=MODEL)
    with pytest.raises(StudyError, match="also used by"):
        run_compare([more, more], 5, tmp_path / "x", model=MODEL)
    broken = tmp_path / "pol" / "broken.toml"
    broken.write_text('[overlay]\nbase = "../base.toml"\n[overlay.set]\nqueue.servers = 0\n')
    with pytest.raises(StudyError, match="broken.toml.*queue.servers"):
        run_compare([base, broken], 5, tmp_path / "x", model=MODEL)


def test_overlay_values_become_toml_literals(tmp_path: Path) -> None:
    from twin.study.policy import toml_literal

    assert toml_literal("a b") == '"a b"' and toml_literal(True) == "true" and toml_literal(0.5) == "0.5"
    assert toml_literal([1, "x"]) == '[1, "x"]' and toml_literal({"dist": "exponential", "mean": 4.0}) == (
        '{dist = "exponential", mean = 4.0}')
    f = tmp_path / "p.toml"
    f.write_text('[overlay]\nname = "p"\n[overlay.set]\nmeta.description = "two words"\npolicy.tiers.T1.due_hours = 1\n')
    assert load_policy(f).overrides == ('meta.description="two words"', "policy.tiers.T1.due_hours=1")
    assert load_policy(f).scenario.path is None  # no base: the model's default scenario
