"""The switchover in the load plan: the scenario's mode changes and its mobilised members.

The model decides when the mode changes (the declared warnings and response levels of the
``[emergency]`` section, :mod:`twin.emergency.declared`) and which members it calls up, to
which community and team, and how long each takes from the notification to the community
(``emergency.arrival_minutes``, drawn per member — :func:`twin.emergency.summary.call_up_frame`).
Here both become part of the plan, compressed by the speedup like the incidents:

- :class:`ModeStep` — ``POST /mode`` at the wall second the model switched, carrying
  ``expected_members`` (the head count that switch calls up) so the platform can say when
  50 % / 90 % had checked in;
- :class:`MemberCall` — one check-in (报到) per member at the wall second the model has the
  member arrive; ``members_scale`` multiplies the population (a city-size call-up: Wuhan could
  call ~400,000 双报到 party members, 1,574 went to one community — 党员生活 2023-12-04): each
  member is played ⌊K⌋ times, plus once more with probability K − ⌊K⌋, the copies with their
  own delays drawn from the same distribution.

Plain Python and NumPy (the Locust users import it); deterministic for a scenario and seed.
"""

from __future__ import annotations

import hashlib
import math
import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from twin.rng import stream_rng

#: How often a member's app looks at the team's open tasks, in simulated minutes [A]; at most
#: once a wall second (as staff), so a storm of members is not a storm of list polls only.
MEMBER_POLL_SIM_MINUTES = 30.0


@dataclass(frozen=True, slots=True)
class ModeStep:
    """A mode change of the scenario, due ``at_s`` wall seconds after t0."""

    at_s: float
    sim_min: float
    mode: str
    cause: str
    expected_members: int

    def to_json(self) -> dict[str, Any]:
        return {f: getattr(self, f) for f in self.__slots__}


@dataclass(frozen=True, slots=True)
class MemberCall:
    """One member's check-in (报到), due ``at_s`` wall seconds after t0 (the model's arrival)."""

    member_id: str
    community: str
    team: str  # the team the model put the member in (the platform assigns its own)
    at_s: float
    notified_min: float  # simulated minute of the call-up
    arrive_min: float  # simulated minute of the arrival

    def to_json(self) -> dict[str, Any]:
        return {f: getattr(self, f) for f in self.__slots__}


def mode_steps(timeline: list[dict[str, Any]], start_min: float, end_min: float, speedup: float,
               expected: dict[float, int]) -> list[ModeStep]:
    """The mode changes of the model's ``timeline`` (``summary["modes"]["timeline"]``) inside
    ``[start_min, end_min)``; if the window opens in a mode other than normal, that mode first
    at wall second 0. ``expected`` maps a switch's simulated minute to its head count."""
    out: list[ModeStep] = []
    for seg in timeline:
        t = float(seg["start_min"])
        if seg.get("source") == "start":
            continue
        if t < start_min < float(seg.get("end_min", math.inf)) and seg["mode"] != "normal":
            out.append(ModeStep(0.0, start_min, seg["mode"], str(seg.get("cause", "")), expected.get(t, 0)))
        elif start_min <= t < end_min:
            out.append(ModeStep(round((t - start_min) * 60.0 / speedup, 6), t, seg["mode"], str(seg.get("cause", "")), expected.get(t, 0)))
    return out


def uniform(text: str) -> float:
    """A fixed uniform in [0, 1) for ``text`` (a cryptographic hash: CRC-32 is linear, so the
    choices made with two salts of one id would be correlated)."""
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big") / 2**64


def copies(member: str, scale: float, seed: int) -> int:
    """How many times member ``member`` is played at ``--members-scale`` ``scale``: ⌊K⌋, plus one
    more when the member's fixed uniform (a hash of seed and id) is below K − ⌊K⌋."""
    whole = math.floor(scale)
    return whole + (1 if uniform(f"scale:{seed}:{member}") < scale - whole else 0)


def member_calls(call_ups: pd.DataFrame | None, start_min: float, end_min: float, speedup: float, scale: float,
                 seed: int, delay_sampler: Any = None) -> tuple[list[MemberCall], dict[float, int]]:
    """The members called up inside the window whose arrival also falls inside it, as check-ins
    (scaled by ``scale``); and the head count each switch calls up (scaled likewise), by the
    switch's simulated minute. Copies beyond the first draw their delay with ``delay_sampler(rng,
    n)`` (the scenario's ``arrival_minutes``; the model's own delay when None)."""
    if scale <= 0:
        raise ValueError(f"--members-scale: expected a number > 0, got {scale:g}")
    if call_ups is None or call_ups.empty:
        return [], {}
    rng = stream_rng(seed, "loadtest.members")
    calls: list[MemberCall] = []
    expected: Counter[float] = Counter()
    rows = call_ups[(call_ups["notified_min"] >= start_min) & (call_ups["notified_min"] < end_min)]
    for r in rows.itertuples(index=False):
        n = copies(str(r.member), scale, seed)
        expected[float(r.notified_min)] += n
        delays = [float(r.delay_min)]
        if n > 1:
            extra = delay_sampler(rng, n - 1) if delay_sampler is not None else np.full(n - 1, float(r.delay_min))
            delays += [float(x) for x in extra]
        for j, d in enumerate(delays[:n]):
            arrive = float(r.notified_min) + d
            if arrive >= end_min:
                continue
            mid = str(r.member) if j == 0 else f"{r.member}x{j}"
            calls.append(MemberCall(mid, str(r.community), str(r.team), round((arrive - start_min) * 60.0 / speedup, 6),
                                    float(r.notified_min), arrive))
    calls.sort(key=lambda c: (c.at_s, c.member_id))
    return calls, dict(expected)


def loses_first_reply(member_id: str, share: float) -> bool:
    """Fault injection for check-ins: the first reply to this member's check-in is lost (the
    platform recorded it, the app never heard and sends again). Chosen by the member id, so the
    same members in every run and every Locust process."""
    return uniform(f"lost:{member_id}") < share


# ---------------------------------------------------------------------- what the users note
class MobLog:
    """What the member and mode users of one Locust process did, one line per event, in
    ``mob-<pid>.log`` (check-ins with their record id, claims by outcome, mode changes): read
    back by :func:`read_mob_logs` for the ``mobilisation`` block of ``loadtest.json``."""

    def __init__(self, directory: str) -> None:
        self.directory = directory
        self._f: Any = None

    def note(self, *fields: object) -> None:
        if not self.directory:
            return
        if self._f is None:
            self._f = open(Path(self.directory) / f"mob-{os.getpid()}.log", "a", buffering=1, encoding="utf-8")  # noqa: SIM115
        self._f.write(" ".join(str(f) for f in fields) + "\n")


def read_mob_logs(directory: Path) -> list[list[str]]:
    """Every line of every process's ``mob-*.log``, split into fields."""
    out: list[list[str]] = []
    for p in sorted(Path(directory).glob("mob-*.log")):
        out += [line.split(" ") for line in p.read_text(encoding="utf-8").splitlines() if line.strip()]
    return out


# ---------------------------------------------------------------------- read back
def _q(xs: list[float], q: float) -> float | None:
    return None if not xs else round(float(np.percentile(xs, q)), 3)


def _sim_minutes_after(plan_speedup: float, at: Any, declared: Any) -> float | None:
    """Simulated minutes from the platform's declaration to ``at``: a number is already wall
    minutes from the declaration (the reference platform's ``checkins_p50_at``); a time (ISO
    8601) is taken against ``declared``. Wall minutes × speedup = simulated minutes."""
    from twin.service.times import minutes_of

    if at is None or isinstance(at, bool):
        return None
    if isinstance(at, int | float):
        return round(float(at) * plan_speedup, 2)
    try:
        a, d = minutes_of(at, "checkins_at"), minutes_of(declared, "declared_at")
    except (TypeError, ValueError):
        return None
    if a is None or d is None:
        return None
    return round((a - d) * plan_speedup, 2)


def mobilisation_block(plan: Any, lines: list[list[str]], platform: dict[str, Any] | None,
                       sim_modes: dict[str, Any] | None, bucket_s: float = 1.0) -> dict[str, Any] | None:
    """The ``mobilisation`` block of ``loadtest.json``: what the members did (check-ins, their
    latency and peak rate, retries, claims by outcome), what the platform recorded
    (``GET /mobilisation``), the minutes from declaration to 50 % / 90 % checked in as the
    platform recorded them beside the simulation's, and ``duplicates`` — check-ins the platform
    counted twice (must be 0). None when the plan has no switch and no members."""
    if not plan.mode_steps and not plan.members:
        return None
    att = [ln for ln in lines if ln[0] == "checkin" and len(ln) >= 7]
    ok = [ln for ln in att if ln[2] in ("200", "201")]
    ids: dict[str, set[str]] = {}
    first_ok: dict[str, float] = {}
    for ln in ok:
        ids.setdefault(ln[1], set()).add(ln[3])
        first_ok[ln[1]] = min(first_ok.get(ln[1], float(ln[4])), float(ln[4]))
    status: Counter[str] = Counter(ln[2] for ln in att)
    ms = [float(ln[5]) for ln in ok]
    t0 = plan.t0_epoch
    n_b = max(1, math.ceil((plan.duration_s + plan.drain_s) / bucket_s))
    per = [0] * n_b
    for t in first_ok.values():
        per[min(max(int((t - t0) // bucket_s), 0), n_b - 1)] += 1
    sim_per = [0] * n_b
    for m in plan.members:
        sim_per[min(max(int(m.at_s // bucket_s), 0), n_b - 1)] += 1
    modes = [ln for ln in lines if ln[0] == "mode"]
    steps = plan.mode_steps
    declared = next((s for s in steps if s.mode != "normal"), None)
    expected = sum(s.expected_members for s in steps if s.mode != "normal")

    def client_minutes(share: float) -> float | None:
        if declared is None or not expected:
            return None
        times = sorted(first_ok.values())
        k = math.ceil(share * expected)
        if len(times) < k:
            return None
        return round((times[k - 1] - (t0 + declared.at_s)) * plan.speedup / 60.0, 2)

    pf = platform or {}
    declared_at = pf.get("declared_at")
    claims: Counter[str] = Counter(ln[3] for ln in lines if ln[0] == "claim" and len(ln) >= 4)
    completes: Counter[str] = Counter(ln[3] for ln in lines if ln[0] == "complete" and len(ln) >= 4)
    # counted twice: a member given two records, or more check-ins on the platform than members
    # ever sent (one whose reply never came back may be on the platform: not a duplicate)
    twice = sum(1 for v in ids.values() if len(v) > 1)
    recorded = pf.get("checked_in")
    sent = {ln[1] for ln in att}
    extra = max(0, int(recorded) - len(sent)) if isinstance(recorded, int) else 0
    sm = sim_modes or {}
    return {
        "declared_at": declared_at,
        "declared_at_sim_min": None if declared is None else declared.sim_min,
        "mode_steps": [s.to_json() for s in steps],
        "mode_posts": [{"mode": ln[1], "status": int(ln[2]), "wall_s": round(float(ln[3]) - t0, 3)} for ln in modes],
        "members_scale": plan.members_scale,
        "expected_members": expected,
        "called": len(plan.members),
        "checked_in": recorded,
        "checked_in_by_load_test": len(first_ok),
        "checkin_rps_peak": max(per) / bucket_s if first_ok else 0.0,
        "checkin_p50_ms": _q(ms, 50),
        "checkin_p99_ms": _q(ms, 99),
        "checkin_attempts": len(att),
        "checkin_status": dict(sorted(status.items())),
        "checkin_retries": len(att) - len(sent),
        "lost_replies": sum(1 for ln in lines if ln[0] == "lost"),
        "minutes_to_50pct": {
            "platform": _sim_minutes_after(plan.speedup, pf.get("checkins_p50_at"), declared_at),
            "load_test": client_minutes(0.5),
            "simulation": sm.get("minutes_to_50pct"),
        },
        "minutes_to_90pct": {
            "platform": _sim_minutes_after(plan.speedup, pf.get("checkins_p90_at"), declared_at),
            "load_test": client_minutes(0.9),
            "simulation": sm.get("minutes_to_90pct"),
        },
        "claims": dict(sorted(claims.items())),
        "completions": dict(sorted(completes.items())),
        "stood_down": sum(1 for ln in lines if ln[0] == "stood_down"),
        "duplicates": twice + extra,
        "platform": pf,
        "storm": {"bucket_s": bucket_s, "checkins": per, "scheduled": sim_per},
    }
