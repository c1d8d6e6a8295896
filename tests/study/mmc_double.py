"""A tiny deterministic M/M/c SimPy model: a test double for the study machinery.

Its scenario is a TOML file with one ``[queue]`` table (arrival rate per minute, mean service
minutes, servers, due minutes, minutes simulated); overrides are ``queue.field=value`` like the
district model's. Its summary has the district model's shape (on_time_rate, utilisation, …) so
the study code is exercised as it will be with the real model, plus ``mean_wait`` for checks
against Erlang C. ``wall_seconds`` is real wall time on purpose: studies must not depend on it.
"""

from __future__ import annotations

import time
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import simpy

from twin.study.errors import StudyError
from twin.study.tasks import Model, SingleQueue

DEFAULTS: dict[str, Any] = {"arrival_rate": 1.0, "service_mean": 2.5, "servers": 3, "due_minutes": 5.0, "minutes": 600.0}


def _load(path: str | None, overrides: tuple[str, ...]) -> dict[str, Any]:
    data: dict[str, Any] = {"queue": dict(DEFAULTS)}
    if path is not None:
        raw = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        unknown = set(raw) - {"queue"}
        if unknown:
            raise StudyError(f"{path}: {sorted(unknown)[0]}: unknown section")
        data["queue"].update(raw.get("queue", {}))
    for item in overrides:
        key, _, value = item.partition("=")
        section, _, name = key.partition(".")
        if section != "queue" or name not in DEFAULTS:
            raise StudyError(f"{key}: unknown field; expected queue.<{'|'.join(DEFAULTS)}>")
        data["queue"][name] = tomllib.loads(f"v = {value}")["v"]
    q = data["queue"]
    if not isinstance(q["servers"], int) or isinstance(q["servers"], bool) or q["servers"] < 1:
        raise StudyError(f"queue.servers: expected an integer ≥ 1, got {q['servers']!r}")
    for name in ("arrival_rate", "service_mean", "due_minutes", "minutes"):
        if not isinstance(q[name], int | float) or q[name] <= 0:
            raise StudyError(f"queue.{name}: expected a number > 0, got {q[name]!r}")
    return q


def validate(path: str | None, overrides: tuple[str, ...], days: float | None = None) -> None:
    _load(path, overrides)


def run(path: str | None, overrides: tuple[str, ...], seed: int, days: float | None) -> Mapping[str, Any]:
    q = _load(path, overrides)
    t0 = time.perf_counter()
    minutes = float(days) * 1440.0 if days is not None else float(q["minutes"])
    arrivals_rng, service_rng = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(2))
    env = simpy.Environment()
    desk = simpy.Resource(env, capacity=q["servers"])
    waits: list[float] = []
    sojourns: list[float] = []
    busy = [0.0]
    events = [0]

    def case() -> Any:
        arrived = env.now
        with desk.request() as req:
            yield req
            waits.append(env.now - arrived)
            service = float(service_rng.exponential(q["service_mean"]))
            busy[0] += min(service, minutes - env.now)
            yield env.timeout(service)
            sojourns.append(env.now - arrived)
            events[0] += 1

    def source() -> Any:
        while True:
            yield env.timeout(float(arrivals_rng.exponential(1.0 / q["arrival_rate"])))
            events[0] += 1
            env.process(case())

    env.process(source())
    env.run(until=minutes)
    total = len(waits) + len(desk.queue)
    closed = len(sojourns)
    on_time = sum(1 for s in sojourns if s <= q["due_minutes"])
    hours = np.asarray(sojourns) / 60.0
    return {
        "cases_total": total,
        "cases_closed": closed,
        "on_time_rate": on_time / closed if closed else None,
        "closure_rate": closed / total if total else None,
        "backlog_end": total - closed,
        "hours_to_close": {"T1": {"p50": float(np.percentile(hours, 50)), "p90": float(np.percentile(hours, 90))}},
        "utilisation": {"dispatcher": busy[0] / (q["servers"] * minutes)},
        "mean_wait": float(np.mean(waits)) if waits else 0.0,
        "events_processed": events[0],
        "wall_seconds": time.perf_counter() - t0,
        "seed": seed,
        "scenario": "mmc",
        "version": "test",
    }


def single_queues(path: str | None, overrides: tuple[str, ...]) -> list[SingleQueue]:
    q = _load(path, overrides)
    return [SingleQueue("the desk", "queue.servers", "utilisation.dispatcher", float(q["service_mean"]), "mean_wait")]


MODEL = Model(name="tests.mmc_double", run=run, validate=validate, single_queues=single_queues, sources=("mmc_double",))


def write_scenario(folder: Path, name: str = "queue.toml", **fields: Any) -> Path:
    """A queue scenario file with the given fields (others default)."""
    body = "[queue]\n" + "".join(f"{k} = {v!r}\n" for k, v in fields.items())
    path = folder / name
    path.write_text(body, encoding="utf-8")
    return path
