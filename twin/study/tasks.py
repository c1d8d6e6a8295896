"""One replication as a self-contained task, and the model adapter that runs it.

A :class:`Task` carries everything a worker needs — the scenario (path, content hash and the
file's text), the overrides of its point or policy, its seed and the run length — so the same
task gives the same summary on this machine's processes or on a remote Dask worker. A worker
that cannot read the scenario path (another machine) writes the carried text to a private
temporary file and loads that instead.

A :class:`Model` bundles two module-level functions (picklable by reference): ``run`` turns
``(scenario path, overrides, seed, days)`` into a summary dict, ``validate`` checks a scenario,
overrides and run length without running. The shipped model is :data:`twin.study.model.DISTRICT_MODEL`;
tests inject small queueing models.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import math
import os
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from twin.study.errors import StudyError

RunFn = Callable[[str | None, tuple[str, ...], int, float | None], Mapping[str, Any]]
ValidateFn = Callable[[str | None, tuple[str, ...], float | None], None]


@dataclass(frozen=True, slots=True)
class SingleQueue:
    """A part of the model that is, on paper, one M/M/c queue (for the Erlang C comparison).

    ``field`` is the scenario field holding its server count, ``utilisation_kpi`` and
    ``wait_kpi`` (mean minutes in the queue — or in the system, wait plus service, when
    ``wait_includes_service``; None if the model does not report it) name its KPIs, and
    ``service_minutes`` is the mean service time per customer in the base scenario.
    """

    label: str
    field: str
    utilisation_kpi: str
    service_minutes: float
    wait_kpi: str | None = None
    wait_includes_service: bool = False


SingleQueuesFn = Callable[[str | None, tuple[str, ...]], Sequence[SingleQueue]]


@dataclass(frozen=True, slots=True)
class Model:
    """The simulation a study replicates: a name (recorded in the study) and its functions.

    ``single_queues`` (optional) lists the parts of the scenario that are single queues, so a
    sweep over their server count can be drawn beside Erlang C. ``sources`` names the modules
    and packages whose code decides the results; a study records their fingerprint
    (:func:`code_fingerprint`) and refuses to resume over replications made by other code.
    """

    name: str
    run: RunFn
    validate: ValidateFn
    single_queues: SingleQueuesFn | None = None
    sources: tuple[str, ...] = ()


def code_fingerprint(modules: Sequence[str]) -> str | None:
    """sha256 (16 hex digits) of the Python source of ``modules`` (packages: every ``.py`` file
    under them), by path relative to the module and content; None for no modules."""
    if not modules:
        return None
    h = hashlib.sha256()
    for name in sorted(modules):
        spec = importlib.util.find_spec(name)
        if spec is None:
            raise ValueError(f"code_fingerprint: no module {name!r}")
        if spec.submodule_search_locations:
            roots = [Path(loc) for loc in spec.submodule_search_locations]
            files = sorted((f.relative_to(r).as_posix(), f) for r in roots for f in r.rglob("*.py"))
        elif spec.origin:
            files = [(Path(spec.origin).name, Path(spec.origin))]
        else:
            raise ValueError(f"code_fingerprint: {name!r} has no source file")
        for rel, f in files:
            h.update(f"{name}:{rel}\n".encode())
            h.update(f.read_bytes())
            h.update(b"\0")
    return h.hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class ScenarioRef:
    """A scenario file by path, with its content so remote workers need no shared disk.

    ``path`` None means the model's embedded default scenario.
    """

    path: str | None
    sha256: str | None = None
    text: str | None = field(default=None, repr=False)

    @classmethod
    def from_path(cls, path: str | Path | None) -> ScenarioRef:
        if path is None:
            return cls(None)
        p = Path(path).expanduser().resolve()
        if not p.is_file():
            raise StudyError(f"{path}: scenario file not found")
        data = p.read_bytes()
        return cls(str(p), hashlib.sha256(data).hexdigest(), data.decode("utf-8"))

    @property
    def label(self) -> str:
        return Path(self.path).name if self.path else "(default scenario)"


@dataclass(frozen=True, slots=True)
class Task:
    """One replication: which unit (sweep point or policy), which replication, and how to run it."""

    unit: str
    rep: int
    seed: int
    scenario: ScenarioRef
    overrides: tuple[str, ...]
    days: float | None

    @property
    def key(self) -> tuple[str, int]:
        return (self.unit, self.rep)


_materialised: dict[str, str] = {}


def scenario_path_on_this_machine(ref: ScenarioRef) -> str | None:
    """The path to load: the original if it is here and unchanged, else a private copy of the text."""
    if ref.path is None:
        return None
    p = Path(ref.path)
    if p.is_file() and ref.sha256 is not None and hashlib.sha256(p.read_bytes()).hexdigest() == ref.sha256:
        return ref.path
    if ref.text is None or ref.sha256 is None:
        return ref.path  # nothing better to offer; the loader will name the missing file
    cached = _materialised.get(ref.sha256)
    if cached and Path(cached).is_file():
        return cached
    folder = tempfile.mkdtemp(prefix="twin-study-scenario-")
    copy = os.path.join(folder, p.name)
    Path(copy).write_text(ref.text, encoding="utf-8")
    _materialised[ref.sha256] = copy
    return copy


def json_safe(value: Any) -> Any:
    """Plain JSON types (NumPy scalars and arrays to Python; NaN/inf to None)."""
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if hasattr(value, "tolist"):  # NumPy scalar or array
        return json_safe(value.tolist())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def run_task(model: Model, task: Task) -> dict[str, Any]:
    """Run one replication and return its summary as plain JSON data."""
    path = scenario_path_on_this_machine(task.scenario)
    summary = model.run(path, task.overrides, task.seed, task.days)
    out = json_safe(dict(summary))
    json.dumps(out)  # fail here, in the worker, if the summary cannot be stored
    return out  # type: ignore[no-any-return]
