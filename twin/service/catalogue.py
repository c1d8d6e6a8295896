"""The service's catalogue: the report categories it accepts (a category outside it is a 422
naming the field and the known categories, so a typo never becomes a case nothing routes).

``twin serve --categories SPEC`` names it; SPEC is a bundled scenario (``street``, the default,
``district``, ``flood`` …), a scenario file (``*.toml``), or a comma-separated list. A scenario's
catalogue is its ``[categories]`` and, when it has one, its ``[emergency.categories]`` (the
incidents an emergency adds). Only the TOML tables are read — the service does not load or
validate the model's scenario — so it stays on the engine alone.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from twin.tomlfile import read_toml

#: The catalogue a service checks reports against unless told otherwise.
DEFAULT_CATALOGUE = "street"


def bundled_scenario(name: str) -> Path | None:
    """The bundled scenario file called ``name`` (``street`` → scenarios/street.toml), or None."""
    if not name.replace("_", "").isalnum():
        return None
    p = Path(str(resources.files("scenarios") / f"{name}.toml"))
    return p if p.is_file() else None


def scenario_categories(path: Path, label: str) -> frozenset[str]:
    """The categories a scenario file declares (its incidents and, if any, its emergency ones)."""
    data = read_toml(path, label, "scenario file")
    cats = data.get("categories")
    if not isinstance(cats, dict) or not cats:
        raise ValueError(f"{label}: expected a scenario with a [categories] table, got none")
    names = set(cats)
    emergency = data.get("emergency")
    if isinstance(emergency, dict) and isinstance(emergency.get("categories"), dict):
        names |= set(emergency["categories"])
    return frozenset(names)


def resolve(spec: str) -> frozenset[str]:
    """The catalogue SPEC names (see module doc); ValueError naming what was expected."""
    s = spec.strip()
    if not s:
        raise ValueError("expected a bundled scenario (street, district …), a scenario .toml file or a comma-separated list, got ''")
    bundled = bundled_scenario(s)
    if bundled is not None:
        return scenario_categories(bundled, f"scenario {s!r}")
    if s.endswith(".toml"):
        return scenario_categories(Path(s), s)
    names = frozenset(c.strip() for c in s.split(",") if c.strip())
    if "," not in s:
        raise ValueError(f"expected a bundled scenario (street, district, flood, epidemic, extreme), a .toml file or a comma-separated list (one category: {s + ','!r}), got {s!r}")
    return names
