"""The drill script: settings and a list of injects (time, place, what), as TOML.

A script lives in its own file, or in a ``[drill]`` table of a scenario file (then
:func:`load_drill` strips the table before the scenario is validated, because the
scenario schema forbids unknown sections). Several teams run the same file and their
after-action reports can be compared.

```toml
[drill]
name = "rainstorm, night shift"
start_hours = 73          # fast-forward silently to hour 73, then go live
until_day = 5             # the exercise ends here (default: the scenario's run.days)
automatic_switching = false   # the trainee decides; the scenario's rules/schedule are off
transfer_minutes = { dist = "lognormal", mean = 30.0, cv = 0.5 }   # a team moving between communities

[[drill.injects]]
at_hours = 75.5
place = "S01-C02"         # a street (S01), community (S01-C02) or grid (S01-C02-G03)
what = "incident"         # incident | surge | marker
category = "trapped_people"
count = 2

[[drill.injects]]
at_hours = 76
place = "S01-C03"
what = "surge"
category = "waterlogging"
per_hour = 6.0
hours = 3.0

[[drill.injects]]
at_hours = 72.5
place = "S01-C02"
what = "warning"          # warning | lift_warning: the declared timeline, put to the trainee as advice
id = "drill-orange"
colour = "orange"
type = "rainstorm"

[[drill.injects]]
at_hours = 78
place = "S01-C01"
what = "marker"
note = "The district asks for a status report at 80:00"
```

Every error names the file, the field (``drill.injects.2.category``) and what was expected.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from twin.scenario import Scenario, ScenarioError, apply_overrides, default_scenario_path, validate
from twin.scenario.emergency import Duration
from twin.tomlfile import read_toml

WHAT: tuple[str, ...] = ("incident", "surge", "marker", "warning", "lift_warning")


class DrillScriptError(ValueError):
    """A drill script that cannot be used; the message names the file and the field."""


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Inject(_Frozen):
    """One scripted inject: at ``at_hours`` from the run's start, at ``place``, ``what`` happens."""

    at_hours: float = Field(ge=0.0)
    place: str
    what: Literal["incident", "surge", "marker", "warning", "lift_warning"]
    category: str | None = None  # an emergency category (incident, surge)
    count: int = Field(default=1, ge=1, le=500)  # incident: how many at once
    per_hour: float | None = Field(default=None, gt=0.0, le=500.0)  # surge: arrivals per hour
    hours: float | None = Field(default=None, gt=0.0, le=240.0)  # surge: how long
    note: str = ""  # marker: the message shown to the trainee (and a remark on any inject)
    id: str | None = None  # warning, lift_warning: the warning's id
    colour: Literal["blue", "yellow", "orange", "red"] | None = None  # warning: 蓝/黄/橙/红
    type: str | None = None  # warning: rainstorm (default), flood, epidemic …

    @model_validator(mode="after")
    def _complete(self) -> Inject:
        if self.what in ("incident", "surge") and not self.category:
            raise ValueError(f"expected a category for what = {self.what!r}")
        if self.what == "surge" and (self.per_hour is None or self.hours is None):
            raise ValueError("expected per_hour and hours for what = 'surge'")
        if self.what == "marker" and not self.note:
            raise ValueError("expected a note for what = 'marker'")
        if self.what == "warning" and (not self.id or self.colour is None):
            raise ValueError("expected an id and a colour (blue, yellow, orange, red) for what = 'warning'")
        if self.what == "lift_warning" and not self.id:
            raise ValueError("expected the id of the warning to lift for what = 'lift_warning'")
        return self


class DrillScript(_Frozen):
    """The ``[drill]`` table."""

    name: str = "drill"
    description: str = ""
    start_hours: float = Field(default=0.0, ge=0.0)
    until_day: float | None = Field(default=None, gt=0.0)
    automatic_switching: bool = False
    transfer_minutes: Duration = Duration(dist="lognormal", mean=30.0, cv=0.5)  # [A] across a street in the rain
    injects: list[Inject] = []

    @model_validator(mode="after")
    def _order(self) -> DrillScript:
        if self.until_day is not None and self.start_hours >= self.until_day * 24.0:
            raise ValueError(f"expected start_hours < until_day × 24 = {self.until_day * 24.0:g}")
        return self


def _loc(prefix: str, loc: Sequence[int | str]) -> str:
    return ".".join([prefix, *(str(p) for p in loc)]) if loc else prefix


def parse_script(data: Mapping[str, Any], label: str) -> DrillScript:
    """Validate a ``[drill]`` table; errors read ``<label>: drill.<field>: <what was expected>``."""
    try:
        return DrillScript.model_validate(dict(data))
    except ValidationError as exc:
        lines = []
        for e in exc.errors(include_url=False)[:5]:
            msg = str(e["msg"]).removeprefix("Value error, ")
            got = e.get("input")
            tail = "" if e["type"] in ("value_error", "missing") or isinstance(got, dict) else f", got {got!r}"
            lines.append(f"{label}: {_loc('drill', e['loc'])}: {msg}{tail}")
        raise DrillScriptError("\n".join(lines)) from None


def load_script(path: str | Path) -> DrillScript:
    """A separate script file: TOML with one ``[drill]`` table."""
    p = Path(path)
    data = read_toml(p, str(p), "drill script file", DrillScriptError)
    extra = sorted(set(data) - {"drill"})
    if extra:
        raise DrillScriptError(f"{p}: {extra[0]}: expected only a [drill] table in a script file, got [{extra[0]}]")
    if "drill" not in data:
        raise DrillScriptError(f"{p}: drill: expected a [drill] table, got none")
    return parse_script(data["drill"], str(p))


def default_drill_scenario() -> Path:
    """The scenario ``twin drill`` uses with no argument: the flood beside the default street."""
    return default_scenario_path().with_name("flood.toml")


def load_drill(
    scenario_path: str | Path | None, overrides: Sequence[str] = (), script_path: str | Path | None = None
) -> tuple[Scenario, DrillScript, str]:
    """The scenario (its ``[drill]`` table stripped) and the script: ``script_path`` if given,
    else the scenario's own ``[drill]`` table, else an empty script. Returns (scenario, script, label)."""
    p = default_drill_scenario() if scenario_path is None else Path(scenario_path)
    label = str(p) if scenario_path is not None else "scenarios/flood.toml"
    data = read_toml(p, label, "scenario file", ScenarioError)
    table = data.pop("drill", None)
    if overrides:
        data = apply_overrides(data, overrides, label)
    sc = validate(data, label)
    if script_path is not None:
        script = load_script(script_path)
    elif table is not None:
        script = parse_script(table, label)
    else:
        script = DrillScript()
    script = with_default_window(script, sc)
    check_against(script, sc, str(script_path) if script_path is not None else label)
    return sc, script, label


#: Go live this long before the first warning/declaration/emergency [A]: time to read the situation.
LEAD_HOURS = 1.0
#: After the last warning or level is lifted, the exercise runs on this long (the stand-down) [A].
TAIL_HOURS = 2.0
#: The wall time a default drill should take (a trainer's session: ≈ 45–90 wall minutes) [A].
TARGET_WALL_MINUTES = 60.0


def first_and_last_hours(sc: Scenario) -> tuple[float, float | None]:
    """The first declared or arriving emergency event of the scenario (hours), and the last
    lifting of a warning or response level (``None`` if nothing is lifted)."""
    em = sc.emergency
    assert em is not None
    starts = [w.issued_hours for w in em.warnings] + [d.declared_hours for d in em.responses]
    starts += [st.at_hours for st in em.schedule]
    if not starts:  # no declarations: the hazard's first arrivals or surges
        starts = [w.start_hours for c in em.categories.values() for w in c.windows]
        starts += [sg.start_hours for sg in em.surges]
    lifts = [w.lifted_hours for w in em.warnings if w.lifted_hours is not None]
    lifts += [d.lifted_hours for d in em.responses if d.lifted_hours is not None]
    return (min(starts) if starts else 0.0), (max(lifts) if lifts else None)


def with_default_window(script: DrillScript, sc: Scenario) -> DrillScript:
    """Fill what the script leaves unset: go live :data:`LEAD_HOURS` before the first warning
    (not at minute 0 of a ten-day scenario) and end :data:`TAIL_HOURS` after the last lift
    (or the last scripted inject)."""
    if sc.emergency is None:
        return script
    first, last = first_and_last_hours(sc)
    update: dict[str, Any] = {}
    if "start_hours" not in script.model_fields_set:
        update["start_hours"] = max(0.0, first - LEAD_HOURS)
    if "until_day" not in script.model_fields_set and last is not None:
        last = max([last, *(inj.at_hours for inj in script.injects)])  # every scripted inject is played
        end = min((last + TAIL_HOURS) / 24.0, sc.run.days)
        if end * 24.0 > update.get("start_hours", script.start_hours):
            update["until_day"] = end
    return script.model_copy(update=update) if update else script


def default_speed(sc: Scenario, script: DrillScript) -> float:
    """Simulated minutes per wall second that fit the exercise (start → end) into
    :data:`TARGET_WALL_MINUTES` wall minutes, rounded to a whole number (at least 1)."""
    end_h = (script.until_day if script.until_day is not None else sc.run.days) * 24.0
    span_min = max(0.0, end_h - script.start_hours) * 60.0
    return float(max(1, round(span_min / (TARGET_WALL_MINUTES * 60.0))))


def place_names(sc: Scenario) -> tuple[list[str], list[str], list[str]]:
    """Street, community and grid names the territory will have (as :mod:`twin.sim.territory` names them)."""
    t = sc.territory
    streets = [f"S{s + 1:02d}" for s in range(t.streets)]
    comms = [f"{streets[s]}-C{c + 1:02d}" for s in range(t.streets) for c in range(t.communities_per_street)]
    if t.grids is None:
        per = [t.grids_per_community] * len(comms)
    else:
        base, extra = divmod(t.grids, len(comms))
        per = [base + (1 if i < extra else 0) for i in range(len(comms))]
    grids = [f"{c}-G{g + 1:02d}" for c, n in zip(comms, per, strict=True) for g in range(n)]
    return streets, comms, grids


def check_against(script: DrillScript, sc: Scenario, label: str) -> None:
    """Checks that need the scenario: an [emergency] section, category and place names, times."""
    if sc.emergency is None:
        raise DrillScriptError(
            f"{label}: emergency: expected a scenario with an [emergency] section (a drill rehearses 常急转换), got none"
        )
    cats = sorted(sc.emergency.categories)
    streets, comms, grids = place_names(sc)
    known = set(streets) | set(comms) | set(grids)
    days = script.until_day if script.until_day is not None else sc.run.days
    if script.start_hours >= days * 24.0:
        raise DrillScriptError(
            f"{label}: drill.start_hours: expected less than the run's {days * 24.0:g} hours, got {script.start_hours:g}"
        )
    for i, inj in enumerate(script.injects):
        where = f"{label}: drill.injects.{i}"
        if inj.category is not None and inj.category not in cats:
            raise DrillScriptError(
                f"{where}.category: expected an emergency category from {cats}, got {inj.category!r}"
            )
        if inj.place not in known:
            raise DrillScriptError(
                f"{where}.place: expected a street ({streets[0]}…), community ({comms[0]}…) or grid ({grids[0]}…) "
                f"of the scenario, got {inj.place!r}"
            )
        if inj.at_hours >= days * 24.0:
            raise DrillScriptError(
                f"{where}.at_hours: expected less than the run's {days * 24.0:g} hours, got {inj.at_hours:g}"
            )
