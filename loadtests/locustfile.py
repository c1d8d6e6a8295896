"""Locust users and the load shape for ``twin loadtest`` — they only speak the API.

The plan (``GRIDTWIN_LOADTEST_PLAN``, built by twin.loadtest.schedule) says what to send and
when; the target adapter (twin.loadtest.targets) says how. Users:

- ResidentUser — reports (app, 12345 hotline, rider snapshots; patrol finds with the grid
  worker's token), follows the case, answers the call-back (一事一评);
- DeviceUser — SOS callers, water meters, sensors: alerts retried on timeouts, lost replies
  (``--device-lost-replies``) and 409/429/503 with the *same* Idempotency-Key;
- ModeUser — the district centre switching the mode (常急转换) when the scenario does, with the
  head count the switch calls up; MemberUser — the mobilised members: each checks in (报到) at
  the model's arrival time through the app backend (retried on timeouts, lost replies and 5xx
  with the *same* Idempotency-Key), then lists the team's open tasks, claims one, works it for
  the compressed task time and completes it, until the mobilisation closes;
- GridWorkerUser (claim, handle, resolve; verify and close; now and then ask for an extension,
  延期, or answer the reporter, 答复), CommunityUser (also approves or refuses the extensions its
  grids ask for; now and then suspends and resumes (挂账) or reassigns (改派) a case it handles),
  StreetDispatcherUser (派单 to boards), BoardUser and DepartmentUser (handle, or return the
  case with ``decline``), DistrictDispatcherUser — one user per person on duty, handling times
  compressed by the plan's speedup.

ScenarioShape follows the scenario's arrival rate: staff users are fixed, arrival users scale
with the rate of the current window, and the arrivals themselves fire at their scheduled times.
"""

from __future__ import annotations

import contextlib
import hashlib
import heapq
import json
import time
from typing import Any

import gevent
from gevent.pool import Group
from locust import LoadTestShape, task
from locust.contrib.fasthttp import FastHttpUser
from locust.runners import WorkerRunner

from twin.loadtest.mobilisation import MemberCall, MobLog, loses_first_reply
from twin.loadtest.plan import Agenda, Arrival, Claims, Plan, SendLog, ref_of, resolves_at, unit_for, work_minutes
from twin.loadtest.targets import Reference, Req, adapter

PLAN = Plan.load()
TARGET = adapter(PLAN)
REF = Reference(PLAN)
CLAIMS = Claims()
SENT = SendLog(PLAN.send_log_dir)
MOB = MobLog(PLAN.send_log_dir)
CASE_OF_REF: dict[str, str] = {}  # incidents reported by this process → case ids (for merging repeat complaints)
RACE = (404, 409, 412)  # someone else changed the case first: not an error of the platform
_AGENDAS: dict[str, Agenda] = {}
_COUNTERS: dict[str, int] = {}
SESSIONS = Group()  # arrival sessions in flight in this process (they outlive a stopped user)
#: One case in this many has its handler ask for an extension (延期) [A]; one decision in
#: REFUSE_ONE_IN is a refusal; the community looks at pending requests every EXTENSION_POLL polls.
EXTEND_ONE_IN = 20
REFUSE_ONE_IN = 4
EXTENSION_POLL = 5
#: The other time actions (issue 12), each on one case in this many [A]: a community handling its
#: own case puts it on hold (挂账) for SUSPEND_SIM_MINUTES and resumes it, or adds a deputy (改派);
#: a grid worker answers the reporter (答复) while on it.
SUSPEND_ONE_IN = 20
SUSPEND_SIM_MINUTES = 30.0
REASSIGN_ONE_IN = 20
REPLY_ONE_IN = 20


def chosen(case: dict[str, Any], salt: str, one_in: int) -> bool:
    """A fixed choice per incident (the same in every run and process): a hash of the plan's
    reference of the incident (its case id when it has none) and ``salt``."""
    ref = ref_of(case.get("description")) or str(case.get("id"))
    return int.from_bytes(hashlib.sha256(f"{salt}:{ref}".encode()).digest()[:4], "big") % one_in == 0


def process_index(user: FastHttpUser) -> int:
    runner = user.environment.runner
    return int(getattr(runner, "worker_index", 0)) if isinstance(runner, WorkerRunner) else 0


def agenda(user: FastHttpUser, name: str, kinds: tuple[str, ...]) -> Agenda:
    ag = _AGENDAS.get(name)
    if ag is None:
        ag = _AGENDAS[name] = Agenda(PLAN.shard(kinds, process_index(user), PLAN.processes))
    return ag


def ended() -> bool:
    return PLAN.wall_s() > PLAN.duration_s + PLAN.drain_s


class ApiUser(FastHttpUser):
    abstract = True
    network_timeout = PLAN.request_timeout_s
    connection_timeout = PLAN.request_timeout_s

    def call(self, req: Req, race_ok: bool = False, ok: tuple[int, ...] = ()) -> tuple[int, Any]:
        """Send ``req``; 2xx is success, a lost race (404/409/412) too when ``race_ok``, and the
        statuses in ``ok`` (answers the protocol expects, such as a closed mobilisation)."""
        with self.client.request(req.method, req.path, headers=req.headers, data=req.body, name=req.name, catch_response=True) as r:
            status = int(r.status_code or 0)
            if 200 <= status < 300:
                r.success()
                try:
                    return status, json.loads(r.text or "null")
                except ValueError:
                    return status, None
            if (race_ok and status in RACE) or status in ok:
                r.success()
                return status, None
            if status:
                r.failure(f"HTTP {status}")
            return status, None


# ---------------------------------------------------------------------- arrivals
class ArrivalUser(ApiUser):
    abstract = True
    kinds: tuple[str, ...] = ()
    concurrency = 64  # connections of this user's pool: its sessions run side by side

    @task
    def step(self) -> None:
        if ended():
            gevent.sleep(1.0)
            return
        ag = agenda(self, self.__class__.__name__, self.kinds)
        now = PLAN.wall_s()
        item = ag.pop_due(now)
        if item is None:
            nxt = ag.next_due()
            gevent.sleep(0.5 if nxt is None else min(0.2, max(0.002, nxt - now)))
            return
        # an open model: each arrival is its own session, sent on time whatever the platform's
        # answer time (the user does not wait for one report before sending the next)
        SESSIONS.spawn(self.session, ag, item)

    def session(self, ag: Agenda, item: Any) -> None:
        if item.kind == "arrive":
            self.arrive(ag, item.arrival)
        elif item.kind == "follow" and item.case_id:
            self.call(TARGET.follow(item.arrival, item.case_id))
        elif item.kind == "evaluate" and item.case_id:
            self.evaluate(ag, item.arrival, item.case_id, item.tries)

    def report(self, a: Arrival) -> str | None:
        """POST the report; on a timeout, 409 (in flight), 429 or 503 send it again with the
        same Idempotency-Key, so the platform makes one case however often it is sent."""
        req = TARGET.report(a)
        lose_reply = PLAN.loses_first_reply(a)
        for attempt in range(PLAN.max_retries):
            if ended():
                break
            with self.client.request(req.method, req.path, headers=req.headers, data=req.body, name=req.name, catch_response=True) as r:
                status = int(r.status_code or 0)
                if status in (200, 201) and lose_reply and attempt == 0:
                    # injected fault: the case was made but the reply never arrived; the device
                    # cannot tell this from a timeout and sends the alert again
                    r.failure("lost reply (fault injected)")
                    gevent.sleep(0.05)
                    continue
                if status in (200, 201):
                    r.success()
                    return TARGET.case_id(status, r.text or "")
                if status == 409:
                    r.success()  # the first send is still being handled: the protocol says retry
                elif status:
                    r.failure(f"HTTP {status}")
                if status and status not in (409, 429, 503):
                    return None
                wait = min(0.5, 0.05 * 2**attempt)
                with contextlib.suppress(TypeError, ValueError):
                    wait = float(r.headers.get("Retry-After") or wait) if status else wait
            gevent.sleep(min(wait, 0.5))
        return None

    def arrive(self, ag: Agenda, a: Arrival) -> None:
        SENT.note(a.ref, time.time())
        case_id = self.report(a)
        if case_id is None:
            return
        CASE_OF_REF[a.ref] = case_id
        if a.kind != "resident":
            return
        ag.push(a.at_s + PLAN.wall_seconds_for(30.0), "follow", a, case_id)
        if PLAN.target == "reference" and a.channel in ("app", "hotline") and a.u_eval < PLAN.policy["evaluation_share"]:
            cb = PLAN.next_callback(a.sim_min)
            ag.push(a.at_s + PLAN.wall_seconds_for(cb - a.sim_min), "evaluate", a, case_id)

    def evaluate(self, ag: Agenda, a: Arrival, case_id: str, tries: int) -> None:
        status, case = self.call(REF.follow(a, case_id))
        if status != 200 or not isinstance(case, dict):
            return
        if case["state"] == "closed":
            ok = case.get("resolved_at") is not None and PLAN.on_time(case["reported_at"], case["resolved_at"], a.tier)
            score = PLAN.satisfaction(a, ok, rework=int(case.get("reopen_count", 0)) > 0)
            self.call(REF.evaluate(a, case_id, int(case["version"]), score), race_ok=True)
        elif case["state"] not in ("evaluated", "rejected", "merged") and tries < 3:
            ag.push(PLAN.wall_s() + PLAN.wall_seconds_for(1440.0), "evaluate", a, case_id, tries + 1)


class ResidentUser(ArrivalUser):
    """Residents (and grid workers' patrol finds): report, follow, evaluate."""

    weight = 1
    kinds = ("resident", "patrol")


class DeviceUser(ArrivalUser):
    """Devices: alerts, retried on timeouts with the same Idempotency-Key."""

    fixed_count = PLAN.device_users
    kinds = ("device",)
    network_timeout = PLAN.device_timeout_s  # a response slower than this is a timeout: send again


# ---------------------------------------------------------------------- the switchover
class ModeUser(ApiUser):
    """The district centre: ``POST /mode`` at each of the scenario's mode changes."""

    fixed_count = 1 if PLAN.mode_steps and PLAN.target == "reference" else 0

    def on_start(self) -> None:
        self.next = 0

    @task
    def step(self) -> None:
        if self.next >= len(PLAN.mode_steps) or ended():
            gevent.sleep(1.0)
            return
        s = PLAN.mode_steps[self.next]
        wait = s.at_s - PLAN.wall_s()
        if wait > 0:
            gevent.sleep(min(wait, 0.2))
            return
        self.next += 1
        status, _ = self.call(REF.set_mode(s), race_ok=True)  # 409: the platform is in that mode already
        MOB.note("mode", s.mode, status, f"{time.time():.6f}", s.expected_members)


#: Replies after which the app sends a check-in (same Idempotency-Key) or a completion again: no
#: answer (timeout, connection), 409 (check-in: no mobilisation open yet, the switch is on its
#: way), 429, 5xx.
RESEND = (0, 429, 500, 502, 503, 504)
CHECKIN_RETRY = (*RESEND, 409)


#: A member's token after the mobilisation closed (mode back to normal): the app stops.
CLOSED = (401, 403, 409, 410)


class MemberUser(ApiUser):
    """The mobilised members of this process: each is its own session (an open model — a
    member checks in when the model has them arrive, whatever the platform's answer time),
    sharing this user's connection pool."""

    fixed_count = PLAN.processes * max(1, min(16, -(-len(PLAN.members) // (200 * PLAN.processes)))) if PLAN.members else 0
    concurrency = 128
    network_timeout = PLAN.device_timeout_s  # the app gives up on a reply after this long and sends again

    @task
    def step(self) -> None:
        if ended():
            gevent.sleep(1.0)
            return
        ag = _MEMBERS.get("agenda")
        if ag is None:
            ag = _MEMBERS["agenda"] = [*reversed(PLAN.member_shard(process_index(self), PLAN.processes))]
        now = PLAN.wall_s()
        if not ag or ag[-1].at_s > now:
            gevent.sleep(0.5 if not ag else min(0.2, max(0.002, ag[-1].at_s - now)))
            return
        SESSIONS.spawn(self.member, ag.pop())

    def check_in(self, m: MemberCall) -> dict[str, Any] | None:
        """POST the check-in until the platform has it and we heard (a lost reply, a timeout or a
        5xx is sent again with the same key); note every attempt."""
        req = REF.checkin(m)
        lose = loses_first_reply(m.member_id, PLAN.checkin_lost_replies)  # the first reply that arrives is lost
        for attempt in range(PLAN.max_retries):
            if ended():
                return None
            t = time.time()
            with self.client.request(req.method, req.path, headers=req.headers, data=req.body, name=req.name, catch_response=True) as r:
                status = int(r.status_code or 0)
                ms = (time.time() - t) * 1000.0
                body: Any = None
                if status in (200, 201):
                    with contextlib.suppress(ValueError):
                        body = json.loads(r.text or "null")
                rec = body if isinstance(body, dict) else {}
                MOB.note("checkin", m.member_id, status, rec.get("checkin_id", "-"), f"{t:.6f}", f"{ms:.3f}", attempt)
                if status in (200, 201) and lose:
                    lose = False
                    r.failure("lost reply (fault injected)")  # recorded, never heard: the app sends again
                    MOB.note("lost", m.member_id)
                    gevent.sleep(0.05)
                    continue
                if status in (200, 201) and rec.get("member_token"):
                    r.success()
                    return rec
                if status == 409:
                    r.success()  # the switch has not reached the platform yet: the protocol says retry
                elif status:
                    r.failure(f"HTTP {status}")
                if status not in CHECKIN_RETRY:
                    return None
            gevent.sleep(min(0.5, 0.05 * 2**attempt))
        return None

    def member(self, m: MemberCall) -> None:
        rec = self.check_in(m)
        if rec is None:
            return
        token = str(rec["member_token"])
        rounds = 0
        while not ended():
            status, page = self.call(REF.open_tasks(token), ok=CLOSED)
            if status in CLOSED:  # the mobilisation closed: the member's token is void
                MOB.note("stood_down", m.member_id, status)
                return
            tasks = page.get("items", []) if isinstance(page, dict) else page if isinstance(page, list) else []
            tasks = [t for t in tasks if isinstance(t, dict) and t.get("task_id")]
            if not tasks:
                gevent.sleep(PLAN.member_poll_s)
                continue
            rounds += 1
            # members of a team see the same list: each picks by a hash of their id, so they collide
            # now and then as people do (the platform's claim decides)
            pick = tasks[int.from_bytes(hashlib.sha256(f"{m.member_id}:{rounds}".encode()).digest()[:4], "big") % len(tasks)]
            tid = str(pick["task_id"])
            status, _ = self.call(REF.claim(token, tid, m.member_id), race_ok=True)
            MOB.note("claim", m.member_id, tid, {200: "ok", 409: "taken", 404: "not_found"}.get(status, f"http_{status}"))
            if status != 200:
                gevent.sleep(PLAN.member_poll_s / 4)  # someone was quicker (or the platform is busy): look again soon
                continue
            gevent.sleep(PLAN.wall_seconds_for(PLAN.task_sim_minutes))
            for attempt in range(PLAN.max_retries):  # reporting back is idempotent: resend until heard
                status, _ = self.call(REF.complete(token, tid, "done on site"), race_ok=True)
                if status not in RESEND or ended():
                    break
                gevent.sleep(min(0.5, 0.05 * 2**attempt))
            MOB.note("complete", m.member_id, tid, {200: "ok", 409: "conflict", 404: "not_found"}.get(status, f"http_{status}"))


_MEMBERS: dict[str, list[MemberCall]] = {}


# ---------------------------------------------------------------------- staff
class StaffUser(ApiUser):
    """One person on duty: polls the work list of their unit and handles one case at a time."""

    abstract = True
    role = ""

    def on_start(self) -> None:
        n = _COUNTERS.get(self.role, 0)
        _COUNTERS[self.role] = n + 1
        self.unit = unit_for(PLAN, self.role, n, process_index(self)) or {}
        self.deferred: list[tuple[float, int, str, str]] = []  # (due wall s, seq, case id, token key)
        self.seq = 0

    @task
    def step(self) -> None:
        if ended():
            gevent.sleep(1.0)
            return
        self.run_deferred()
        sim = PLAN.sim_now()
        did = self.work(sim, PLAN.on_duty(self.role, sim))
        if not did:
            gevent.sleep(PLAN.poll_s)

    def work(self, sim: float, on_duty: bool) -> bool:  # pragma: no cover - overridden
        raise TypeError("abstract")

    # helpers -------------------------------------------------------------
    def sleep_sim(self, minutes: float) -> None:
        gevent.sleep(PLAN.wall_seconds_for(max(0.0, minutes)))

    def act(self, key: str, case: dict[str, Any], action: str, body: dict[str, Any] | None = None) -> dict[str, Any] | None:
        status, out = self.call(REF.transition(key, case["id"], action, int(case["version"]), body), race_ok=True)
        return out if status == 200 and isinstance(out, dict) else None

    def work_list(self, key: str, states: tuple[str, ...], level: int | None = None, grid: str | None = None) -> list[dict[str, Any]]:
        status, page = self.call(REF.work_list(key, states, level, grid))
        if status != 200 or not isinstance(page, dict):
            return []
        return [c for c in page.get("items", []) if isinstance(c, dict)]

    def resolve_later(self, key: str, case: dict[str, Any], lead_min: float) -> None:
        if lead_min <= 0:
            self.act(key, case, "resolve")
            CLAIMS.release(case["id"])
            return
        self.seq += 1
        heapq.heappush(self.deferred, (PLAN.wall_s() + PLAN.wall_seconds_for(lead_min), self.seq, case["id"], key))

    def run_deferred(self) -> None:
        now = PLAN.wall_s()
        while self.deferred and self.deferred[0][0] <= now:
            _, _, cid, key = heapq.heappop(self.deferred)
            status, case = self.call(Req("GET", f"/cases/{cid}", REF.auth(key), None, "GET /cases/{id}"), race_ok=True)
            if status == 200 and isinstance(case, dict) and case["state"] in ("dispatched", "in_progress"):
                self.act(key, case, "resolve")
            CLAIMS.release(cid)

    def time_actions(self, key: str, case: dict[str, Any], level: int, me: str) -> dict[str, Any]:
        """Now and then (a fixed choice per incident): at the community, the dispatching level of
        its own cases, suspend and resume, or reassign to add a deputy; at the grid, reply."""
        if level == 1 and chosen(case, "suspend", SUSPEND_ONE_IN):
            held = self.act(key, case, "suspend", {"reason": "waiting for the owner to be at home"})
            if held is not None:
                self.sleep_sim(SUSPEND_SIM_MINUTES)
                case = self.act(key, held, "resume", {}) or held
        if level == 1 and chosen(case, "reassign", REASSIGN_ONE_IN):
            case = self.act(key, case, "reassign", {"assignees": [me, f"{me}-deputy"], "reason": "two hands needed"}) or case
        if level == 0 and chosen(case, "reply", REPLY_ONE_IN):
            case = self.act(key, case, "reply", {"text": "a grid worker is on it"}) or case
        return case

    def handle(self, key: str, case: dict[str, Any], level: int, me: str) -> None:
        """Claim (dispatch to oneself), handle for the compressed effort, then resolve or pass up."""
        a = PLAN.arrival(ref_of(case.get("description")))
        cid = str(case["id"])
        try:
            if case["state"] == "reported":
                case = self.act(key, case, "accept") or {}
                if not case:
                    return
            case = self.act(key, case, "dispatch", {"assignees": [me]}) or {}
            if not case:
                return
            case = self.act(key, case, "start") or {}
            if not case:
                return
            if chosen(case, "extend", EXTEND_ONE_IN) and case.get("unit_due_at") is not None:
                body = {"minutes": 60, "reason": "waiting for the owner / materials"}
                case = self.act(key, case, "extend", body) or case
            case = self.time_actions(key, case, level, me)
            rework = int(case.get("reopen_count", 0)) > 0
            res = resolves_at(a, level, rework, PLAN.policy["on_the_spot_share"])
            self.sleep_sim(work_minutes(a, level, res))
            if res:
                self.resolve_later(key, case, 0.0 if a is None else a.lead[min(a.need, level)])
                return
            self.act(key, case, "escalate", {"reason": "beyond this level"})
        finally:
            if not any(d[2] == cid for d in self.deferred):
                CLAIMS.release(cid)


class GridWorkerUser(StaffUser):
    """网格员: claims the grid's new cases, settles small matters on the spot, passes the rest up;
    answers emergencies (T0) at any hour; verifies and closes resolved cases of the grid."""

    role = "grid_worker"
    fixed_count = len(PLAN.units.get("grid_worker", []))

    def on_start(self) -> None:
        super().on_start()
        self.next_verify = 0.0

    def work(self, sim: float, on_duty: bool) -> bool:
        grids = self.unit.get("grids", [])
        if PLAN.wall_s() >= self.next_verify:
            self.next_verify = PLAN.wall_s() + max(PLAN.poll_s, PLAN.wall_seconds_for(60.0))
            for g in grids:
                self.verify(g, sim)
        todo: list[tuple[str, dict[str, Any]]] = []
        for g in grids:
            todo += [(g, c) for c in self.work_list(f"worker:{g}", ("reported", "reopened"), 0, g)]
        urgent = [t for t in todo if t[1]["tier"] in ("T0", "E")]  # emergencies at any hour
        pick = urgent or (todo if on_duty else [])
        for g, case in pick:
            if CLAIMS.take(case["id"]):
                if case["tier"] == "T0" and case["state"] == "reported":
                    self.emergency(g, case)
                elif not self.merge_repeat(g, case):
                    self.handle(f"worker:{g}", case, 0, f"worker:{g}")
                return True
        return False

    def emergency(self, g: str, case: dict[str, Any]) -> None:
        key = f"worker:{g}"
        a = PLAN.arrival(ref_of(case.get("description")))
        try:
            self.sleep_sim(0.0 if a is None else a.travel)
            if a is not None and a.false_alarm:
                self.act(key, case, "reject", {"reason": "false alarm"})
                return
            c = self.act(key, case, "accept")
            c = c and self.act(key, c, "dispatch", {"assignees": [key]})
            c = c and self.act(key, c, "start")
            if c:
                self.act(key, c, "resolve")
        finally:
            CLAIMS.release(case["id"])

    def merge_repeat(self, g: str, case: dict[str, Any]) -> bool:
        """A repeat complaint (12345 again about an overdue case) is merged into the original."""
        a = PLAN.arrival(ref_of(case.get("description")))
        if a is None or a.repeat_of is None or case["state"] != "reported":
            return False
        into = CASE_OF_REF.get(a.repeat_of)
        if into is None:
            for c in self.work_list(f"worker:{g}", ("accepted", "dispatched", "in_progress", "reopened", "reported"), None, g):
                if ref_of(c.get("description")) == a.repeat_of:
                    into = c["id"]
                    break
        if into is None:
            return False
        self.act(f"worker:{g}", case, "merge", {"into": into})
        CLAIMS.release(case["id"])
        return True

    def verify(self, g: str, sim: float) -> None:
        key = f"worker:{g}"
        for case in self.work_list(key, ("resolved",), None, g):
            a = PLAN.arrival(ref_of(case.get("description")))
            if case.get("resolved_at") is None or PLAN.sim_of_engine(case["resolved_at"]) + (0.0 if a is None else a.verify) > sim:
                continue
            if not CLAIMS.take(case["id"]):
                continue
            c = self.act(key, case, "verify")
            if c:
                self.act(key, c, "close")
            CLAIMS.release(case["id"])


class CommunityUser(StaffUser):
    """社区 staff: handle what the grid passed up, or pass it to the street centre."""

    role = "community"
    fixed_count = len(PLAN.units.get("community", []))

    def work(self, sim: float, on_duty: bool) -> bool:
        if not on_duty:
            return False
        c = self.unit["community"]
        key = f"community:{c}"
        self.polls = getattr(self, "polls", 0) + 1
        if self.polls % EXTENSION_POLL == 0 and self.decide_extensions(key):
            return True
        for case in self.work_list(key, ("accepted", "reopened"), 1):
            if CLAIMS.take(case["id"]):
                self.handle(key, case, 1, f"worker:CO-{c}")
                return True
        return False


    def decide_extensions(self, key: str) -> bool:
        """Approve (or now and then refuse) the extension requests pending on the community's cases."""
        did = False
        for case in self.work_list(key, ("dispatched", "in_progress")):
            if case.get("extension_pending") is None:
                continue
            if chosen(case, "refuse", REFUSE_ONE_IN):
                self.act(key, case, "refuse_extension", {"reason": "finish it within the limit"})
            else:
                self.act(key, case, "approve_extension", {})
            did = True
        return did


class StreetDispatcherUser(StaffUser):
    """街道指挥中心: triage, then 派单 to the category's board; a case a board returned goes up."""

    role = "street_dispatcher"
    fixed_count = len(PLAN.units.get("street_dispatcher", []))

    def work(self, sim: float, on_duty: bool) -> bool:
        if not on_duty:
            return False
        key = f"street:{self.unit['street']}"
        for case in self.work_list(key, ("accepted", "reopened"), 2):
            if not CLAIMS.take(case["id"]):
                continue
            try:
                if case["state"] == "accepted" and self.was_returned(key, case["id"]):
                    self.act(key, case, "escalate", {"reason": "beyond the street (returned by the board)"})
                    return True
                a = PLAN.arrival(ref_of(case.get("description")))
                self.sleep_sim(0.0 if a is None else a.triage[0])
                board = PLAN.policy["board_of_category"].get(case["category"], "民生服务")
                self.act(key, case, "dispatch", {"assignees": [f"board:{board}"]})
            finally:
                CLAIMS.release(case["id"])
            return True
        return False

    def was_returned(self, key: str, case_id: str) -> bool:
        status, events = self.call(REF.events(key, case_id))
        return status == 200 and isinstance(events, list) and bool(events) and events[-1].get("action") == "decline"


class DistrictDispatcherUser(StaffUser):
    """区 city-operations centre: triage, then 吹哨派单 to the category's department."""

    role = "district_dispatcher"
    fixed_count = len(PLAN.units.get("district_dispatcher", []))

    def work(self, sim: float, on_duty: bool) -> bool:
        if not on_duty:
            return False
        key = "district"
        for case in self.work_list(key, ("accepted", "reopened"), 3):
            if not CLAIMS.take(case["id"]):
                continue
            try:
                a = PLAN.arrival(ref_of(case.get("description")))
                self.sleep_sim(0.0 if a is None else a.triage[1])
                dept = PLAN.policy["department_of_category"].get(case["category"])
                if dept is None:
                    dept = PLAN.units["department"][0]["department"] if PLAN.units.get("department") else "urban_management"
                self.act(key, case, "dispatch", {"assignees": [f"department:{dept}"]})
            finally:
                CLAIMS.release(case["id"])
            return True
        return False


class AssigneeUser(StaffUser):
    """A board (板块) or department member: start, handle, then resolve or return (decline)."""

    abstract = True
    level = 2

    def token_key(self) -> str:  # pragma: no cover - overridden
        raise TypeError("abstract")

    def work(self, sim: float, on_duty: bool) -> bool:
        if not on_duty:
            return False
        key = self.token_key()
        for case in self.work_list(key, ("dispatched",)):
            if not CLAIMS.take(case["id"]):
                continue
            a = PLAN.arrival(ref_of(case.get("description")))
            c = self.act(key, case, "start")
            if c is None:
                CLAIMS.release(case["id"])
                return True
            res = resolves_at(a, self.level, int(c.get("reopen_count", 0)) > 0, 1.0)
            self.sleep_sim(work_minutes(a, self.level, res))
            if res:
                self.resolve_later(key, c, 0.0 if a is None else a.lead[min(a.need, self.level)])
            else:
                self.act(key, c, "decline", {"reason": "beyond this level"})
                CLAIMS.release(case["id"])
            return True
        return False


class BoardUser(AssigneeUser):
    role = "board"
    level = 2
    fixed_count = len(PLAN.units.get("board", []))

    def token_key(self) -> str:
        return f"board:{self.unit['street']}:{self.unit['assignee'].split(':', 1)[1]}"


class DepartmentUser(AssigneeUser):
    role = "department"
    level = 3
    fixed_count = len(PLAN.units.get("department", []))

    def token_key(self) -> str:
        return f"department:{self.unit['department']}"


STAFF = [GridWorkerUser, CommunityUser, StreetDispatcherUser, BoardUser, DistrictDispatcherUser, DepartmentUser]


class ScenarioShape(LoadTestShape):
    """Staff users for the whole run; arrival users following the scenario's arrival rate;
    stops after the arrivals and the drain time."""

    use_common_options = False

    def tick(self) -> tuple[int, float, list[type]] | None:
        s = time.time() - PLAN.t0_epoch
        if s > PLAN.duration_s + PLAN.drain_s:
            return None
        staff = [u for u in STAFF if u.fixed_count > 0] if PLAN.target == "reference" else []
        fixed = sum(u.fixed_count for u in staff)
        classes: list[type] = [*staff, ResidentUser]
        if PLAN.device_users > 0:
            classes.append(DeviceUser)
            fixed += PLAN.device_users
        for u in (ModeUser, MemberUser):
            if u.fixed_count > 0:
                classes.append(u)
                fixed += u.fixed_count
        residents = max(1, PLAN.arrival_users_at(max(0.0, s)) - PLAN.device_users) if s <= PLAN.duration_s else 1
        return fixed + residents, 100.0, classes
