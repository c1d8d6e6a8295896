"""City scenario files: a city is a list of districts, each a district scenario derived from a
template (its own residents, streets, grids and district-level staff), plus the shared level
above them — the city's 12345 centre and its operations centre (城运中心).

A city file has a ``[city]`` table (what :func:`is_city_file` looks for). Every error is one
line naming the file and the field: ``scenarios/city.toml: city.districts.3.residents:
expected an integer > 0, got -5``.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from twin.dists import Dist, Share
from twin.scenario import Scenario, ScenarioError, apply_overrides, exp_dist, load_scenario
from twin.tomlfile import read_toml


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CityDistrict(_Strict):
    """One district (or function zone) of the city."""

    name: Annotated[str, Field(min_length=1)]
    residents: Annotated[int, Field(gt=0)]
    streets: Annotated[int, Field(ge=1)] | None = None  # default: residents / city.residents_per_street
    scenario: str | None = None  # a district scenario of its own instead of the city's template
    set: dict[str, Any] = {}  # further dotted overrides for this district


class Centre(_Strict):
    """A unit of the shared level above the districts."""

    name: Annotated[str, Field(min_length=1)]
    staff: Annotated[int, Field(ge=1)]


def _hourly(values: list[float], what: str) -> None:
    if len(values) != 24:
        raise ValueError(f"{what}: expected 24 values (hours 0–23), got {len(values)}")
    if not any(v > 0 for v in values):
        raise ValueError(f"{what}: expected at least one hour > 0, got all 0")


class HotlineCentre(Centre):
    """The city's 12345 centre (:mod:`twin.coupling.hotline`): one pool of call-takers, 7×24.

    ``on_duty_by_hour``: the share of ``staff`` taking calls in each hour of the day (the
    roster); ``direct_per_1000_per_day``: calls the centre answers itself without a work order
    (咨询/直接解答), per 1,000 residents of the districts simulated, spread over the day by
    ``direct_by_hour`` (weights); ``order_minutes``: an operator's handling of a call that
    becomes a work order (None: the template's ``hotline.operator_minutes``);
    ``patience_minutes``: how long a caller waits before hanging up (None: nobody hangs up), of
    whom ``redial_share`` call again ``redial_minutes`` later (the rest give up for good);
    ``answer_targets_seconds``: the answer-within thresholds the summary reports."""

    on_duty_by_hour: list[Share] = [0.05] * 7 + [0.15] + [0.40] * 4 + [0.30] * 2 + [0.40] * 4 + [0.20] * 3 + [0.08] * 3
    direct_per_1000_per_day: Annotated[float, Field(ge=0)] = 0.91
    direct_by_hour: list[Annotated[float, Field(ge=0)]] = [0.3] * 7 + [2.0] + [7.5] * 4 + [5.0] * 2 + [7.5] * 4 + [3.0] * 3 + [1.0] * 3
    direct_minutes: Dist = exp_dist(5.0)
    order_minutes: Dist | None = None
    patience_minutes: Dist | None = exp_dist(3.0)
    redial_share: Share = 0.5
    redial_minutes: Dist = exp_dist(10.0)
    answer_targets_seconds: list[Annotated[float, Field(gt=0)]] = [15.0, 20.0]

    @model_validator(mode="after")
    def _check(self) -> HotlineCentre:
        _hourly(self.on_duty_by_hour, "on_duty_by_hour")
        _hourly(self.direct_by_hour, "direct_by_hour")
        if not self.answer_targets_seconds:
            raise ValueError("answer_targets_seconds: expected at least one threshold, got []")
        return self


class OperationsCentre(Centre):
    """The city operations centre (城运中心): the districts' figures every ``report_minutes``
    and 督办 to the district holding a 12345 order more than ``supervise_overdue_hours`` past
    its deadline (:mod:`twin.coupling.city`)."""

    report_minutes: Annotated[float, Field(gt=0)] = 60.0
    supervise_overdue_hours: Annotated[float, Field(ge=0)] = 24.0


class City(_Strict):
    name: Annotated[str, Field(min_length=1)]
    template: str = "district.toml"  # relative to the city file
    partitions_per_district: Annotated[int, Field(ge=1)] = 1
    people_per_household: Annotated[float, Field(gt=0)] = 2.5
    residents_per_street: Annotated[float, Field(gt=0)] = 77_150.0
    scale_district_staff: bool = True
    hotline_centre: HotlineCentre
    operations_centre: OperationsCentre
    districts: Annotated[list[CityDistrict], Field(min_length=1)]

    @model_validator(mode="after")
    def _unique(self) -> City:
        seen: set[str] = set()
        for i, d in enumerate(self.districts):
            if d.name in seen:
                raise ValueError(f"districts.{i}.name: expected a name no other district has, got {d.name!r}")
            seen.add(d.name)
        return self


class RunPart(_Strict):
    days: Annotated[float, Field(gt=0)] | None = None
    warmup_days: Annotated[float, Field(ge=0)] | None = None
    seed: Annotated[int, Field(ge=0)] | None = None


class Meta(_Strict):
    name: str = "city"
    description: str = ""


class CityFile(_Strict):
    meta: Meta = Meta()
    run: RunPart = RunPart()
    city: City


class CityScenario:
    """A validated city: its file, the parsed spec and one district :class:`Scenario` each."""

    def __init__(self, path: Path, spec: CityFile, districts: list[Scenario]) -> None:
        self.path = path
        self.spec = spec
        self.districts = districts

    @property
    def name(self) -> str:
        return self.spec.meta.name

    @property
    def residents(self) -> int:
        return sum(d.residents for d in self.spec.city.districts)

    def first(self, n: int) -> CityScenario:
        """The city cut down to its first ``n`` districts (a scaled run)."""
        if not 1 <= n <= len(self.districts):
            raise ScenarioError(f"--districts {n}: expected 1 to {len(self.districts)}, got {n}")
        city = self.spec.city.model_copy(update={"districts": self.spec.city.districts[:n]})
        return CityScenario(self.path, self.spec.model_copy(update={"city": city}), self.districts[:n])

    def only(self, names: Sequence[str]) -> CityScenario:
        """The city cut down to the districts named (a scaled run of chosen districts)."""
        all_names = [d.name for d in self.spec.city.districts]
        for n in names:
            if n not in all_names:
                raise ScenarioError(f"--district {n!r}: expected one of {', '.join(all_names)}, got {n!r}")
        keep = [i for i, n in enumerate(all_names) if n in names]
        city = self.spec.city.model_copy(update={"districts": [self.spec.city.districts[i] for i in keep]})
        return CityScenario(self.path, self.spec.model_copy(update={"city": city}), [self.districts[i] for i in keep])

    def resolved_dict(self) -> dict[str, Any]:
        return json.loads(self.spec.model_dump_json())


def is_city_file(path: str | Path | None) -> bool:
    """Whether ``path`` is a city file (a TOML with a ``[city]`` table); False if unreadable."""
    if path is None:
        return False
    try:
        return "city" in tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError):
        return False


def slug(name: str) -> str:
    """A district's directory name: its name in lower case, runs of other characters as ``-``."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "district"


def _error(label: str, err: Mapping[str, Any]) -> str:
    loc = ".".join(str(p) for p in err["loc"])
    msg = str(err.get("msg", "")).removeprefix("Value error, ")
    if err["type"] == "value_error" and ": expected" in msg:
        head, _, rest = msg.partition(": ")
        return f"{label}: {loc + '.' if loc else ''}{head}: {rest}"
    if err["type"] == "missing":
        return f"{label}: {loc}: expected a value (required field)"
    if err["type"] == "extra_forbidden":
        return f"{label}: {loc}: expected no such field (unknown key)"
    got = json.dumps(err.get("input"), ensure_ascii=False, default=str)
    return f"{label}: {loc}: expected {msg.lower().removeprefix('input should be ')}, got {got[:80]}"


def district_overrides(spec: CityFile, d: CityDistrict, index: int, template: Scenario) -> list[str]:
    """The dotted overrides that turn the template into district ``d`` ([D]: derived)."""
    c = spec.city
    t = template.territory
    streets = d.streets or max(1, round(d.residents / c.residents_per_street))
    grids = max(streets * t.communities_per_street, round(d.residents / (t.households_per_grid * c.people_per_household)))
    out = [
        f"meta.name={json.dumps(f'{spec.meta.name}-{slug(d.name)}')}",
        f"territory.district={json.dumps(d.name, ensure_ascii=False)}",
        f"territory.streets={streets}",
        f"territory.grids={grids}",
        f"territory.people_per_household={c.people_per_household}",
        f"run.partitions={c.partitions_per_district}",
        "outputs.case_events=false",
    ]
    r = spec.run
    seed = (template.run.seed if r.seed is None else r.seed) + 7919 * (index + 1)  # each district its own streams [A]
    out.append(f"run.seed={seed}")
    if r.days is not None:
        out.append(f"run.days={r.days}")
    if r.warmup_days is not None:
        out.append(f"run.warmup_days={r.warmup_days}")
    if c.scale_district_staff:  # the district centre and departments in proportion to residents [A]
        f = d.residents / max(1.0, float((t.grids or 1) * t.households_per_grid * t.people_per_household))
        st = template.staffing
        out.append(f"staffing.district_dispatchers={max(1, round(st.district_dispatchers * f))}")
        out += [f"staffing.departments.{k}.staff={max(1, round(u.staff * f))}" for k, u in st.departments.items()]
    out += [f"{k}={json.dumps(v, ensure_ascii=False)}" for k, v in d.set.items()]
    return out


def load_city(path: str | Path, overrides: Sequence[str] = ()) -> CityScenario:
    """Read and validate a city file and derive its districts; ``overrides`` are dotted paths
    into the city file (``city.partitions_per_district=2``, ``run.days=30``)."""
    p = Path(path)
    label = str(path)
    data = read_toml(p, label, "city file", ScenarioError)
    if overrides:
        data = apply_overrides(data, overrides, label)
    try:
        spec = CityFile.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError(_error(label, exc.errors(include_url=False)[0])) from None
    districts = []
    for i, d in enumerate(spec.city.districts):
        src = p.parent / (d.scenario or spec.city.template)
        where = f"city.districts.{i}" + (".scenario" if d.scenario else "") if d.scenario else "city.template"
        if not src.is_file():
            raise ScenarioError(f"{label}: {where}: expected an existing district scenario file, got {str(src)!r}")
        template = load_scenario(src)
        try:
            districts.append(load_scenario(src, district_overrides(spec, d, i, template)))
        except ScenarioError as exc:
            raise ScenarioError(f"{label}: city.districts.{i} ({d.name}): {exc}") from None
    for i, s in enumerate(districts):  # the city level's lookahead: a district signs for an order one handover after it left
        if not s.policy.handover_minutes > 0.0:
            raise ScenarioError(f"{label}: city.districts.{i} ({s.territory.district}): policy.handover_minutes: expected minutes > 0 "
                                f"in a city (the district's sign-for of a 12345 order, the city level's lookahead), got {s.policy.handover_minutes:g}")
    return CityScenario(p, spec, districts)
