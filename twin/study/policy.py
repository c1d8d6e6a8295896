"""Policy files for ``twin compare``: a full scenario, or a small overlay on a base scenario.

An overlay names its base scenario (relative to the overlay file) and the fields it changes,
so a policy reads as what it changes and nothing else::

    [overlay]
    name = "micro-grids"
    description = "Split grids into micro-grids of ~65 households (Jiangbei 微网格)"
    base = "../street.toml"

    [overlay.set]
    territory.households_per_grid = 65

The ``set`` entries become ``dotted.path=value`` overrides validated by the scenario schema
exactly like ``twin run --set``. A file without an ``[overlay]`` table is a whole scenario.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from twin.study.errors import StudyError
from twin.study.tasks import ScenarioRef

_OVERLAY_KEYS = frozenset({"name", "description", "source", "base", "set"})


@dataclass(frozen=True, slots=True)
class Policy:
    """One arm of a comparison: a display name, the scenario to load and the overrides on it."""

    name: str
    description: str
    scenario: ScenarioRef
    overrides: tuple[str, ...]
    file: str


def toml_literal(value: Any) -> str:
    """A value as the TOML literal an override carries (strings quoted, arrays and tables inline)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(toml_literal(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{_key(k)} = {toml_literal(v)}" for k, v in value.items()) + "}"
    raise StudyError(f"cannot write {value!r} ({type(value).__name__}) as a scenario value")


def _key(k: str) -> str:
    return k if re.fullmatch(r"[A-Za-z0-9_-]+", k) else json.dumps(k)


def _flatten_set(table: Mapping[str, Any], prefix: str = "") -> list[str]:
    """Nested ``[overlay.set]`` tables to ``dotted.path=literal`` overrides.

    Tables always descend, so ``policy.tiers.T1.due_hours = 1`` sets one field and leaves the
    rest of the base's table as it was (a distribution written ``{dist = "exponential", mean = 4}``
    merges into the base's distribution the same way).
    """
    out: list[str] = []
    for k, v in table.items():
        path = f"{prefix}{k}"
        if isinstance(v, Mapping):
            out.extend(_flatten_set(v, path + "."))
        else:
            out.append(f"{path}={toml_literal(v)}")
    return out


def slug(name: str) -> str:
    """A policy name as a directory name."""
    s = re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-.")
    return s or "policy"


def load_policy(path: str | Path) -> Policy:
    """Read a policy file (overlay or whole scenario); errors name the file and the field."""
    p = Path(path).expanduser()
    if not p.is_file():
        raise StudyError(f"{path}: policy file not found")
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise StudyError(f"{path}: expected valid TOML, got {exc}") from None
    overlay = data.get("overlay")
    if overlay is None:
        meta = data.get("meta", {}) if isinstance(data.get("meta"), dict) else {}
        return Policy(str(meta.get("name") or p.stem), str(meta.get("description", "")), ScenarioRef.from_path(p), (), str(p))
    if not isinstance(overlay, dict):
        raise StudyError(f"{path}: overlay: expected a table")
    extra = set(data) - {"overlay"}
    if extra:
        raise StudyError(f"{path}: {sorted(extra)[0]}: unexpected beside [overlay]; put changes under [overlay.set]")
    unknown = set(overlay) - _OVERLAY_KEYS
    if unknown:
        raise StudyError(f"{path}: overlay.{sorted(unknown)[0]}: unknown key; expected one of {sorted(_OVERLAY_KEYS)}")
    base = overlay.get("base")
    if base is not None and not isinstance(base, str):
        raise StudyError(f"{path}: overlay.base: expected a path to a scenario file, got {base!r}")
    sets = overlay.get("set", {})
    if not isinstance(sets, dict):
        raise StudyError(f"{path}: overlay.set: expected a table of scenario fields")
    base_path = None if base is None else (p.parent / base).resolve()
    if base_path is not None and not base_path.is_file():
        raise StudyError(f"{path}: overlay.base: expected an existing scenario file, got {base!r} ({base_path})")
    return Policy(
        name=str(overlay.get("name") or p.stem),
        description=str(overlay.get("description", "")),
        scenario=ScenarioRef.from_path(base_path),
        overrides=tuple(_flatten_set(sets)),
        file=str(p),
    )
