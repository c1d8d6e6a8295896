"""The load-test plan: what the Locust users read, and the small logic they share.

A plan is one JSON file (written by :mod:`twin.loadtest.schedule`, read in every Locust
process through ``GRIDTWIN_LOADTEST_PLAN``): the arrivals (each with its wall-clock offset and
pre-drawn handling attributes), the tokens, the staff units (one Locust user per person on
duty), the working calendars, the time compression and the target. Everything here is plain
Python and NumPy — never Locust — so that it can be tested in the test process.

Time: wall seconds since ``t0_epoch`` map to simulated minutes as
``start_min + seconds × speedup / 60``; the engine's own times (minutes since the Unix epoch
of the server's wall clock) map the same way through :meth:`Plan.sim_of_engine`.
"""

from __future__ import annotations

import heapq
import json
import math
import os
import re
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from twin.engine.kpi import by_due
from twin.loadtest.mobilisation import MEMBER_POLL_SIM_MINUTES, MemberCall, ModeStep
from twin.service.times import minutes_of
from twin.sim.calendar import WorkCalendar

PLAN_ENV = "GRIDTWIN_LOADTEST_PLAN"
#: How an incident's reference travels in the case description (the 12345 ticket number of
#: a real platform): workers find the incident's pre-drawn handling attributes by it.
REF_RE = re.compile(r"#ref:(\S+)")


def describe(ref: str, category: str) -> str:
    return f"{category} #ref:{ref}"


def ref_of(description: str | None) -> str | None:
    m = REF_RE.search(description or "")
    return m.group(1) if m else None


def engine_minutes(t: float | str) -> float:
    """A time from the service (ISO 8601 with offset) or the engine (minutes) as engine minutes."""
    m = minutes_of(t, "time")
    assert m is not None
    return m


@dataclass(frozen=True, slots=True)
class Arrival:
    """One incident of the stream, due ``at_s`` wall seconds after ``t0_epoch``."""

    ref: str
    at_s: float
    sim_min: float  # its time in the scenario (minutes since the run's start)
    kind: str  # resident | device | patrol
    channel: str  # app | hotline | rider | device | patrol
    category: str
    tier: str
    grid: str
    community: str
    street: str
    district: str
    need: int  # lowest level able to resolve it (0 grid … 3 district)
    false_alarm: bool
    repeat_of: str | None
    effort: tuple[float, float, float, float]  # handler minutes per level
    lead: tuple[float, float, float, float]  # elapsed minutes after the effort, per level
    travel: float
    assess: float
    triage: tuple[float, float]
    verify: float  # minutes from resolution to the on-site check
    u_spot: float
    u_eval: float
    u_sat: float

    def to_json(self) -> dict[str, Any]:
        return {f: getattr(self, f) for f in self.__slots__}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Arrival:
        d = dict(d)
        d["effort"] = tuple(d["effort"])
        d["lead"] = tuple(d["lead"])
        d["triage"] = tuple(d["triage"])
        return cls(**d)


@dataclass
class Plan:
    """Everything a Locust process needs to play the scenario against a target."""

    scenario: str
    seed: int
    speedup: float
    start_min: float  # simulated minute (since the run's start) at wall second 0
    duration_s: float  # arrivals are played for this long
    drain_s: float  # then the workers go on handling for this long
    t0_epoch: float  # wall time (Unix seconds) of wall second 0
    run_id: str
    target: str  # reference | open311
    arrival_users: int  # the most concurrent arrival users (residents and devices)
    device_users: int
    processes: int  # Locust processes that generate load (workers in distributed mode)
    arrivals: list[Arrival]
    tokens: dict[str, str]
    units: dict[str, list[dict[str, Any]]]  # role → one entry per person on duty
    calendars: dict[str, dict[str, Any]]  # role → {"windows": [[a, b]…], "weekend": bool}
    start_weekday: int
    policy: dict[str, Any]
    rate_window_s: float
    rate_counts: list[int]  # arrivals per rate window (the shape follows them)
    poll_sim_minutes: float = 10.0
    device_timeout_s: float = 5.0
    device_lost_replies: float = 0.0  # share of device alerts whose first reply is lost on the way back (fault injection)
    request_timeout_s: float = 30.0
    max_retries: int = 30  # sends of one report (timeouts, 409 in flight, 429, 503) before giving up
    open311_services: dict[str, str] = field(default_factory=dict)
    send_log_dir: str = ""  # where each Locust process notes when it first sent each arrival
    mode_steps: list[ModeStep] = field(default_factory=list)  # the scenario's mode changes, played through POST /mode
    members: list[MemberCall] = field(default_factory=list)  # mobilised members' check-ins (报到), scaled
    members_scale: float = 1.0
    checkin_lost_replies: float = 0.0  # share of members whose first check-in reply is lost (fault injection)
    member_poll_sim_minutes: float = MEMBER_POLL_SIM_MINUTES
    task_sim_minutes: float = 30.0  # a member's time on one task (travel + the emergency categories' mean effort)
    _by_ref: dict[str, Arrival] = field(default_factory=dict, repr=False)
    _cal: dict[str, WorkCalendar] = field(default_factory=dict, repr=False)

    def loses_first_reply(self, a: Arrival) -> bool:
        """Whether the first reply to device alert ``a`` is lost on the way back (fault
        injection: the platform made the case, the device never heard). Chosen by the alert's
        ref, so the same alerts lose their reply in every run and every Locust process."""
        return a.kind == "device" and zlib.crc32(a.ref.encode()) / 2**32 < self.device_lost_replies

    # ------------------------------------------------------------------ io
    def to_json(self) -> dict[str, Any]:
        d = {k: v for k, v in self.__dict__.items() if not k.startswith("_")}
        d["arrivals"] = [a.to_json() for a in self.arrivals]
        d["mode_steps"] = [m.to_json() for m in self.mode_steps]
        d["members"] = [m.to_json() for m in self.members]
        return d

    def save(self, path: Path) -> Path:
        path.write_text(json.dumps(self.to_json(), ensure_ascii=False), encoding="utf-8")
        return path

    @classmethod
    def load(cls, path: str | Path | None = None) -> Plan:
        p = Path(path or os.environ[PLAN_ENV])
        d = json.loads(p.read_text(encoding="utf-8"))
        d["arrivals"] = [Arrival.from_json(a) for a in d["arrivals"]]
        d["mode_steps"] = [ModeStep(**m) for m in d.get("mode_steps", [])]
        d["members"] = [MemberCall(**m) for m in d.get("members", [])]
        return cls(**d)

    # ------------------------------------------------------------------ time
    @property
    def end_s(self) -> float:
        return self.duration_s

    def wall_s(self, now: float | None = None) -> float:
        """Wall seconds since t0."""
        return (time.time() if now is None else now) - self.t0_epoch

    def sim_now(self, now: float | None = None) -> float:
        """The simulated minute now."""
        return self.start_min + self.wall_s(now) * self.speedup / 60.0

    def sim_of_engine(self, engine_time: float | str) -> float:
        """An engine time (wall minutes since the Unix epoch, or the ISO 8601 the service answers
        with) as a simulated minute."""
        return self.start_min + (engine_minutes(engine_time) * 60.0 - self.t0_epoch) * self.speedup / 60.0

    def wall_seconds_for(self, sim_minutes: float) -> float:
        """How long ``sim_minutes`` of simulated time last on the wall clock."""
        return sim_minutes * 60.0 / self.speedup

    #: A staff member's app looks at the work list at most once a wall second: faster polling
    #: by ~100 staff users would load the platform with list scans more than with the cases.
    min_poll_s: float = 1.0

    @property
    def poll_s(self) -> float:
        return min(5.0, max(self.min_poll_s, self.wall_seconds_for(self.poll_sim_minutes)))

    @property
    def member_poll_s(self) -> float:
        """Wall seconds between a member's looks at the open tasks of their team."""
        return min(10.0, max(self.min_poll_s, self.wall_seconds_for(self.member_poll_sim_minutes)))

    def member_shard(self, index: int, count: int) -> list[MemberCall]:
        """The check-ins this Locust process plays (every ``count``-th one)."""
        return self.members[index::count] if count > 1 else list(self.members)

    # ------------------------------------------------------------------ lookups
    def arrival(self, ref: str | None) -> Arrival | None:
        if not self._by_ref:
            self._by_ref = {a.ref: a for a in self.arrivals}
        return None if ref is None else self._by_ref.get(ref)

    def calendar(self, role: str) -> WorkCalendar:
        cal = self._cal.get(role)
        if cal is None:
            c = self.calendars[role]
            cal = WorkCalendar([tuple(w) for w in c["windows"]], bool(c["weekend"]), self.start_weekday)
            self._cal[role] = cal
        return cal

    def on_duty(self, role: str, sim_minute: float) -> bool:
        cal = self.calendar(role)
        return bool(cal.always or cal.work[int(sim_minute % 10080.0)])

    def wall_until_duty(self, role: str, sim_minute: float) -> float:
        """Wall seconds until ``role`` is next on duty (0 when on duty now)."""
        nxt = float(self.calendar(role).next_open(np.array([sim_minute]))[0])
        return max(0.0, self.wall_seconds_for(nxt - sim_minute))

    def shard(self, kinds: tuple[str, ...], index: int, count: int) -> list[Arrival]:
        """The arrivals of ``kinds`` this Locust process plays (every ``count``-th one)."""
        mine = [a for a in self.arrivals if a.kind in kinds]
        return mine[index::count] if count > 1 else mine

    def tier_due(self, tier: str) -> float:
        due = self.policy["tier_due_min"]
        return float(due.get(tier, due.get("E", 60.0)))

    def on_time(self, reported_engine: float | str, resolved_engine: float | str, tier: str) -> bool:
        """Resolved by the due time in simulated terms: the compressed resolution time stretched
        back by the speedup against the scenario's SLA (the engine's :func:`by_due`); times as
        engine minutes or as the service's ISO 8601."""
        elapsed = engine_minutes(resolved_engine) - engine_minutes(reported_engine)
        return bool(by_due(elapsed * self.speedup, self.tier_due(tier)))

    def satisfaction(self, a: Arrival, on_time: bool, rework: bool = False) -> int:
        """The resident's score 1–5 drawn as the model draws it (from the arrival's uniform)."""
        u = a.u_sat if not rework else (a.u_sat * 7.0 + 0.5) % 1.0
        cdf = np.cumsum(self.policy["satisfaction_on_time" if on_time else "satisfaction_late"]).tolist()
        score = 1
        while score < 5 and u >= cdf[score - 1]:
            score += 1
        return score

    def next_callback(self, sim_minute: float) -> float:
        """The call-back (一事一评) after ``sim_minute``: the next day at 10:00."""
        return (math.floor(sim_minute / 1440.0) + 1) * 1440.0 + 600.0

    def rate_at(self, wall_s: float) -> float:
        """Arrivals per wall second in the rate window containing ``wall_s``."""
        i = int(wall_s // self.rate_window_s)
        if i < 0 or i >= len(self.rate_counts):
            return 0.0
        return self.rate_counts[i] / self.rate_window_s

    def arrival_users_at(self, wall_s: float) -> int:
        """Concurrent arrival users the shape asks for: in proportion to the arrival rate of
        this window and the next (users must be there when a burst begins, not after)."""
        peak = max(self.rate_counts) / self.rate_window_s if self.rate_counts and max(self.rate_counts) > 0 else 0.0
        if peak <= 0:
            return 1
        rate = max(self.rate_at(wall_s), self.rate_at(wall_s + self.rate_window_s))
        return max(1, min(self.arrival_users, math.ceil(self.arrival_users * rate / peak)))


# ---------------------------------------------------------------------- decisions
def resolves_at(a: Arrival | None, level: int, rework: bool, on_spot_share: float) -> bool:
    """Whether the handler at ``level`` resolves the case (else assesses and passes it up),
    as the model decides (小事不出网: the grid worker settles small matters on the spot)."""
    if a is None or rework or a.tier == "E":  # emergency incidents are settled on site (by the teams in the model)
        return True
    if level == 0:
        return a.need == 0 and a.u_spot < on_spot_share
    return a.need <= level


def work_minutes(a: Arrival | None, level: int, resolves: bool) -> float:
    """Handler minutes at ``level``: the effort if it resolves there, else the assessment."""
    if a is None:
        return 10.0
    base = a.effort[min(a.need, level)] if resolves else a.assess
    return (a.travel if level == 0 else 0.0) + base


# ---------------------------------------------------------------------- agenda
@dataclass(order=True)
class Item:
    due: float  # wall seconds since t0
    seq: int
    kind: str = field(compare=False)  # arrive | follow | evaluate
    arrival: Arrival = field(compare=False)
    case_id: str | None = field(compare=False, default=None)
    tries: int = field(compare=False, default=0)


class Agenda:
    """What the arrival users of one Locust process have to do, earliest first: arrivals of
    their shard, and follow-ups of the cases they reported (follow, call-back evaluation)."""

    def __init__(self, arrivals: list[Arrival]) -> None:
        self._heap: list[Item] = []
        self._seq = 0
        for a in arrivals:
            self.push(a.at_s, "arrive", a)
        self.done_arrivals = 0

    def push(self, due: float, kind: str, a: Arrival, case_id: str | None = None, tries: int = 0) -> None:
        self._seq += 1
        heapq.heappush(self._heap, Item(due, self._seq, kind, a, case_id, tries))

    def pop_due(self, now_s: float) -> Item | None:
        if self._heap and self._heap[0].due <= now_s:
            return heapq.heappop(self._heap)
        return None

    def next_due(self) -> float | None:
        return self._heap[0].due if self._heap else None

    def __len__(self) -> int:
        return len(self._heap)


class Claims:
    """Cases some user of this process is already working on (so two never race for one)."""

    def __init__(self) -> None:
        self._held: set[str] = set()

    def take(self, case_id: str) -> bool:
        if case_id in self._held:
            return False
        self._held.add(case_id)
        return True

    def release(self, case_id: str) -> None:
        self._held.discard(case_id)


class SendLog:
    """When each arrival was first sent, one file per Locust process (``sent-<pid>.log``):
    what the shape did, apart from how fast the platform answered."""

    def __init__(self, directory: str) -> None:
        self.directory = directory
        self._f: Any = None

    def note(self, ref: str, at: float) -> None:
        if not self.directory:
            return
        if self._f is None:
            self._f = open(Path(self.directory) / f"sent-{os.getpid()}.log", "a", buffering=1, encoding="utf-8")  # noqa: SIM115
        self._f.write(f"{ref} {at:.6f}\n")


def read_send_logs(directory: Path) -> dict[str, float]:
    """ref → first send time (Unix seconds) over every process's log."""
    out: dict[str, float] = {}
    for p in sorted(Path(directory).glob("sent-*.log")):
        for line in p.read_text(encoding="utf-8").splitlines():
            ref, _, t = line.partition(" ")
            if ref and t:
                out[ref] = min(out.get(ref, float(t)), float(t))
    return out


def unit_for(plan: Plan, role: str, local_index: int, process_index: int) -> dict[str, Any] | None:
    """The staff unit the ``local_index``-th user of ``role`` in Locust process
    ``process_index`` plays (users are spread round-robin over the processes)."""
    units = plan.units.get(role, [])
    if not units:
        return None
    i = process_index + local_index * max(1, plan.processes)
    return units[i % len(units)]
