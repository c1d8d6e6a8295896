"""有呼必应、因事派人: normal mode's use of the roster — people sent for one call, not mobilised.

Wuhan's practice (党员生活 2023-12-04): in normal times the units registered in a community
help when it calls (有呼必应), sending people for the matter at hand (因事派人). Here: an
emergency case that has waited ``call_after_minutes`` in normal mode (no desk or team free)
makes its community call; a unit sends ``people_per_call`` members registered there (双报到;
else members placed there) who come to that case, work it as the community's on-call team,
and go back. If the case was taken up before they arrive, the trip was in vain (counted).
Their units are short of them while they are out (the component's station head counts).

Draws come from the stream ``emergency.on_call``, so a scenario without calls keeps every
other stream as it was.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

import numpy as np

from agents.mobilised import HOME, ON_CALL
from twin.modes import mobilised_roles
from twin.scenario.emergency import OnCall as OnCallSpec

if TYPE_CHECKING:  # pragma: no cover
    from agents.mobilised import EmergencyTeam
    from twin.emergency.component import EmergencyComponent, EmergencyWork


class OnCall:
    """Calls for help in normal mode, and what came of them."""

    def __init__(self, comp: EmergencyComponent, teams: list[EmergencyTeam], rng: np.random.Generator) -> None:
        self.comp = comp
        self.spec = comp.em.on_call
        self.teams = teams  # community → its on-call team (head count = calls being worked)
        self.rng = rng
        from twin.emergency.roster import ROLE_INDEX

        self.callable = np.array([ROLE_INDEX[r] for r in sorted(mobilised_roles("emergency"))])
        self.calls: list[dict[str, Any]] = []

    def queued(self, job: EmergencyWork) -> None:
        """An emergency case found nobody free: in normal mode, call if it still waits later."""
        if not self.spec.enabled or self.comp.controller.mode != "normal":
            return
        self.comp.env.timeout(self.spec.call_after_minutes).callbacks.append(partial(self._call, job))

    def _waiting(self, job: EmergencyWork) -> bool:
        return job in self.comp.queues[job.community][job.kind]

    def _call(self, job: EmergencyWork, _event: object = None) -> None:
        comp = self.comp
        if comp.controller.mode != "normal" or not self._waiting(job):
            return
        mem = comp.members
        c = job.community
        want = self.spec.people_per_call
        home = (mem.state == HOME) & np.isin(mem.role, self.callable)
        registered = np.flatnonzero(home & (mem.residence == c))  # 双报到 here: asked first
        if registered.size >= want:
            people = self.rng.choice(registered, size=want, replace=False)
        else:
            placed = np.flatnonzero(home & (mem.residence != c) & (mem.destination == c))
            extra = self.rng.choice(placed, size=min(want - registered.size, placed.size), replace=False)
            people = np.concatenate([registered, extra])
        now = float(comp.env.now)
        call: dict[str, Any] = {"t_min": now, "community": c, "case": job.case.id, "people": 0, "outcome": "unanswered"}
        self.calls.append(call)
        if people.size == 0:
            return
        n = int(people.size)
        people = np.sort(people)
        tokens = []
        for k in people.tolist():
            mem.state[k] = ON_CALL
            mem.token[k] += 1
            tokens.append(int(mem.token[k]))
            comp.unit_away(int(mem.unit[k]), +1)
        call["people"] = n
        call["outcome"] = "on the way"
        delay = float(self.spec.arrival_minutes.sample(self.rng, 1)[0])
        comp.env.timeout(delay).callbacks.append(partial(self._arrive, job, call, people.tolist(), tokens))

    def _arrive(self, job: EmergencyWork, call: dict[str, Any], people: list[int], tokens: list[int], _event: object = None) -> None:
        comp = self.comp
        now = float(comp.env.now)
        if self._waiting(job):
            comp.queues[job.community][job.kind].remove(job)
            team = self.teams[job.community]
            team.fixed = (team.fixed or 0) + 1
            job.travel = 0.0  # they came to the scene
            call["outcome"] = "answered"
            call["minutes_to_scene"] = round(now - call["t_min"], 3)
            comp.start_work(team, job)
            done_in = job.effort
        else:
            call["outcome"] = "in vain"  # taken up meanwhile
            done_in = 0.0
        release: Callable[[object], None] = partial(self._release, job, call, people, tokens)
        comp.env.timeout(done_in).callbacks.append(release)

    def _release(self, job: EmergencyWork, call: dict[str, Any], people: list[int], tokens: list[int], _event: object = None) -> None:
        comp = self.comp
        if call["outcome"] == "answered":
            team = self.teams[job.community]
            team.fixed = max(0, (team.fixed or 0) - 1)
        back = float(self.spec.return_minutes.sample(self.rng, 1)[0])
        comp.env.timeout(back).callbacks.append(partial(self._home, people, tokens))

    def _home(self, people: list[int], tokens: list[int], _event: object = None) -> None:
        comp = self.comp
        mem = comp.members
        for k, tok in zip(people, tokens, strict=True):
            if mem.token[k] == tok and mem.state[k] == ON_CALL:  # not called up by a switch meanwhile
                mem.state[k] = HOME
                comp.unit_away(int(mem.unit[k]), -1)

    def record(self) -> OnCallLog:
        """The calls as small plain values (what the ``modes`` block reads)."""
        return OnCallLog(self.spec, list(self.calls))

    def summary(self) -> dict[str, Any]:
        """The ``on_call`` entry of the ``modes`` block."""
        return self.record().summary()


@dataclass
class OnCallLog:
    """The calls for help of a run (or of all its partitions): the rule and what came of each call."""

    spec: OnCallSpec
    calls: list[dict[str, Any]]

    def summary(self) -> dict[str, Any]:
        """The ``on_call`` entry of the ``modes`` block."""
        calls = self.calls
        mins = np.array([c["minutes_to_scene"] for c in calls if "minutes_to_scene" in c], dtype=float)
        by: dict[str, int] = {"answered": 0, "in vain": 0, "unanswered": 0, "on the way": 0}
        for c in calls:
            by[c["outcome"]] += 1
        return {
            "enabled": self.spec.enabled,
            "calls": len(calls),
            "answered": by["answered"],
            "in_vain": by["in vain"],
            "unanswered": by["unanswered"],  # nobody registered or placed there was at home
            "on_the_way": by["on the way"],
            "people_sent": int(sum(c["people"] for c in calls)),
            "minutes_call_to_scene_p50": None if mins.size == 0 else round(float(np.median(mins)), 3),
            "call_after_minutes": self.spec.call_after_minutes,
            "people_per_call": self.spec.people_per_call,
            "source": self.spec.source,
        }
