"""Statistics over replications: t confidence intervals, target search, paired comparisons.

Replications of one point are independent (distinct seeds), so the 95 % CI of a KPI's mean is
``mean ± t(0.975, n−1) · sd/√n``. Replication ``k`` of different points or policies shares a
seed (common random numbers), so two policies are compared on the per-replication differences
``B_k − A_k`` — a paired t-test and a t-CI of the mean difference — which removes the noise the
two runs have in common.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats as sps

from twin.study.kpi import direction
from twin.study.spec import Scalar, Target

CONFIDENCE = 0.95
ALPHA = 1.0 - CONFIDENCE


def t_interval(values: Sequence[float] | np.ndarray) -> tuple[int, float, float, float, float]:
    """``(n, mean, sd, ci_low, ci_high)`` of the non-NaN values; CI is NaN with fewer than 2."""
    x = np.asarray(values, dtype=float)
    x = x[~np.isnan(x)]
    n = int(x.size)
    if n == 0:
        return 0, math.nan, math.nan, math.nan, math.nan
    mean = float(x.mean())
    if n == 1:
        return 1, mean, math.nan, math.nan, math.nan
    sd = float(x.std(ddof=1))
    half = float(sps.t.ppf(1 - ALPHA / 2, n - 1)) * sd / math.sqrt(n)
    return n, mean, sd, mean - half, mean + half


def describe(results: pd.DataFrame, by: Sequence[str], kpis: Sequence[str]) -> pd.DataFrame:
    """One row per group and KPI: ``n, mean, sd, ci_low, ci_high`` (95 % t-interval)."""
    rows: list[dict[str, Any]] = []
    for key, g in results.groupby(list(by), sort=False, dropna=False):
        keys = key if isinstance(key, tuple) else (key,)
        for kpi in kpis:
            if kpi not in g:
                continue
            n, mean, sd, lo, hi = t_interval(g[kpi].to_numpy(dtype=float))
            rows.append({**dict(zip(by, keys, strict=True)), "kpi": kpi, "n": n, "mean": mean, "sd": sd,
                         "ci_low": lo, "ci_high": hi})
    return pd.DataFrame(rows)


# --- target search ---------------------------------------------------------------------------


def staff_increases_with_value(field: str) -> bool:
    """Whether raising ``field`` means more staff.

    Loads per head (``households_per_worker``, ``residents_per_…``, ``cases_per_…``) mean fewer
    staff as they grow; counts and head-count ratios (``dispatchers_per_street``, ``devices``)
    mean more. The CLI's ``--more-staff-when`` overrides this guess.
    """
    leaf = field.rsplit(".", 1)[-1]
    return not leaf.startswith(("households_per_", "residents_per_", "people_per_", "cases_per_", "hh_per_"))


@dataclass(frozen=True, slots=True)
class TargetFinding:
    """Where a target is met along the staffing field, for one setting of any other fields."""

    target: Target
    field: str
    others: tuple[tuple[str, Scalar], ...]
    confident: Scalar | None  # least staff meeting the target with 95 % confidence (CI bound)
    on_average: Scalar | None  # least staff whose mean meets the target
    confident_row: dict[str, Any] | None
    average_row: dict[str, Any] | None

    def sentence(self) -> str:
        where = ", ".join(f"{f}={v}" for f, v in self.others)
        head = f"{self.target}" + (f" at {where}" if where else "")

        def say(v: Scalar | None, how: str) -> str:
            return f"{self.field}={v} ({how})" if v is not None else f"not met {how} within the swept range"

        return f"{head}: {say(self.confident, 'with 95 % confidence')}; {say(self.on_average, 'on average')}"


def _least_staff_meeting(rows: list[dict[str, Any]], ok: Any) -> dict[str, Any] | None:
    """Walking from least to most staff: the first row from which every row meets the target.

    Requiring every larger staffing to meet it too keeps a lucky dip in the noise from being
    reported as the answer when a slightly larger staffing fails.
    """
    answer: dict[str, Any] | None = None
    for row in reversed(rows):  # most staff first
        if ok(row):
            answer = row
        else:
            break
    return answer


def find_target(
    stats: pd.DataFrame,
    target: Target,
    field: str,
    other_fields: Sequence[str] = (),
    more_staff_when_higher: bool | None = None,
) -> list[TargetFinding]:
    """The least staffing meeting ``target`` along ``field``, for each combination of the others.

    "With 95 % confidence" means the whole 95 % CI of the mean is on the right side of the level
    (``ci_low ≥ level`` for ``>=``), the same interval the report draws; "on average" means the
    mean is.
    """
    if more_staff_when_higher is None:
        more_staff_when_higher = staff_increases_with_value(field)
    sub = stats[stats["kpi"] == target.kpi]
    findings: list[TargetFinding] = []
    groups = sub.groupby(list(other_fields), sort=False) if other_fields else [((), sub)]
    for key, g in groups:
        keys = key if isinstance(key, tuple) else (key,)
        rows = g.sort_values(field, ascending=more_staff_when_higher).to_dict("records")
        bound = "ci_low" if target.higher_is_better else "ci_high"
        conf = _least_staff_meeting(rows, lambda r, b=bound: target.met_by(float(r[b])))
        avg = _least_staff_meeting(rows, lambda r: target.met_by(float(r["mean"])))
        findings.append(
            TargetFinding(
                target=target,
                field=field,
                others=tuple(zip(other_fields, keys, strict=True)),
                confident=None if conf is None else conf[field],
                on_average=None if avg is None else avg[field],
                confident_row=conf,
                average_row=avg,
            )
        )
    return findings


# --- paired comparison -----------------------------------------------------------------------


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm–Bonferroni adjusted p-values (NaN stays NaN)."""
    idx = [i for i, p in enumerate(pvalues) if not math.isnan(p)]
    m = len(idx)
    adjusted = [math.nan] * len(pvalues)
    running = 0.0
    for rank, i in enumerate(sorted(idx, key=lambda i: pvalues[i])):
        running = max(running, min(1.0, (m - rank) * pvalues[i]))
        adjusted[i] = running
    return adjusted


def paired_difference(a: np.ndarray, b: np.ndarray) -> dict[str, float]:
    """Mean of ``b − a`` over replications present in both, its 95 % CI and the paired t-test."""
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    keep = ~(np.isnan(a) | np.isnan(b))
    d = b[keep] - a[keep]
    n, mean, sd, lo, hi = t_interval(d)
    if n < 2:
        t, p = math.nan, math.nan
    elif sd == 0.0:
        # identical difference in every pair: none at all (p = 1) or a certain one (p = 0)
        t, p = (0.0, 1.0) if mean == 0.0 else (math.copysign(math.inf, mean), 0.0)
    else:
        res = sps.ttest_rel(b[keep], a[keep])
        t, p = float(res.statistic), float(res.pvalue)
    base = float(a[keep].mean()) if n else math.nan
    rel = mean / abs(base) if n and base not in (0.0,) and not math.isnan(base) else math.nan
    return {"n": n, "mean_a": base, "mean_b": float(b[keep].mean()) if n else math.nan, "diff": mean,
            "diff_sd": sd, "ci_low": lo, "ci_high": hi, "rel_diff": rel, "t": t, "p": p}


def compare_units(results: pd.DataFrame, unit_col: str, units: Sequence[str], kpis: Sequence[str]) -> pd.DataFrame:
    """Every pair of units (A before B in ``units``), every KPI: paired difference B − A and verdict.

    With more than two units the p-values are Holm-adjusted across the pairs of each KPI, and the
    verdict uses the adjusted value, so adding policies does not inflate false "better"s.
    """
    rows: list[dict[str, Any]] = []
    wide = {u: results[results[unit_col] == u].set_index("rep") for u in units}
    reps = sorted(set.intersection(*(set(w.index) for w in wide.values()))) if wide else []
    pairs = [(a, b) for i, a in enumerate(units) for b in units[i + 1:]]
    for kpi in kpis:
        block: list[dict[str, Any]] = []
        for a, b in pairs:
            if kpi not in wide[a] or kpi not in wide[b]:
                continue
            r = paired_difference(wide[a].loc[reps, kpi].to_numpy(), wide[b].loc[reps, kpi].to_numpy())
            block.append({"kpi": kpi, "a": a, "b": b, "direction": direction(kpi), **r})
        for row, p_adj in zip(block, holm([r["p"] for r in block]), strict=True):
            row["p_adj"] = p_adj
            row.update(verdict(row))
        rows.extend(block)
    return pd.DataFrame(rows)


def verdict(row: dict[str, Any]) -> dict[str, Any]:
    """Which of A and B is better on this KPI (``better``: A, B, "none" or "n/a") and a sentence."""
    a, b, kpi, d, p = row["a"], row["b"], row["kpi"], row["diff"], row["p_adj"]
    how = f"{_fmt(abs(d))}" + (f" ({abs(row['rel_diff']):.1%} of {a}'s mean)" if not math.isnan(row["rel_diff"]) else "")
    ci = f"95 % CI of {b} − {a}: [{_fmt(row['ci_low'])}, {_fmt(row['ci_high'])}]"
    if row["direction"] == "neutral":
        return {"better": "n/a", "significant": bool(p < ALPHA),
                "verdict": f"{kpi}: {b} {'higher' if d > 0 else 'lower'} by {how}, neither better nor worse; {ci}"
                if d != 0 else f"{kpi}: no difference; {ci}"}
    if math.isnan(p) or p >= ALPHA or d == 0:
        return {"better": "none", "significant": False,
                "verdict": f"{kpi}: no significant difference (p={_fmt(p)}); {ci}"}
    b_better = (d > 0) == (row["direction"] == "higher")
    winner, loser = (b, a) if b_better else (a, b)
    word = "higher" if (row["direction"] == "higher") else "lower"
    return {"better": winner, "significant": True,
            "verdict": f"{kpi}: {winner} better than {loser} — {word} by {how} (p={_fmt(p)}); {ci}"}


def _fmt(x: float) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "n/a"
    if x == 0:
        return "0"
    if abs(x) < 1e-3:
        return f"{x:.2e}"
    return f"{x:.4g}"
