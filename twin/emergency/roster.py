"""The roster: units and their staff by role, with 双报到 registrations and destinations.

Each person carries a role (command, basic operations, key-personnel safety, other). A
person with a residence registration (双报到) goes down to that community; everyone else
is placed by need — the community with the most need per member already placed there
(a D'Hondt allocation over the need weights), others before basic operations so that the
extreme state's extra people fill in where the emergency state left gaps.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from agents.mobilised import UnitInfo
from twin.modes import ROLES, mobilised_roles
from twin.scenario.emergency import Emergency

ROLE_INDEX = {r: i for i, r in enumerate(ROLES)}


@dataclass
class Roster:
    units: list[UnitInfo]
    unit: np.ndarray
    role: np.ndarray
    residence: np.ndarray
    destination: np.ndarray


def expand_units(em: Emergency, street_names: list[str]) -> list[UnitInfo]:
    """One entry per unit (a ``per_street`` unit once per street, named ``<name>@S01`` …)."""
    out: list[UnitInfo] = []
    for name, u in em.units.items():
        streets: list[int | None] = (
            list(range(len(street_names)))
            if u.per_street
            else [u.street if u.street is not None else (0 if u.kind == "street_office" else None)]
        )
        for s in streets:
            label = f"{name}@{street_names[s]}" if u.per_street and s is not None else name
            out.append(UnitInfo(label, u.kind, s, u.staff.total, list(u.stations)))
    return out


def build_roster(
    em: Emergency,
    street_names: list[str],
    community_residents: np.ndarray,
    community_need: np.ndarray,
    in_area: np.ndarray,
    rng: np.random.Generator,
) -> Roster:
    """People of every unit, their registrations and destinations (deterministic given ``rng``)."""
    units = expand_units(em, street_names)
    specs = list(em.units.values())
    spec_of = []
    for _name, u in em.units.items():
        spec_of.extend([u] * (len(street_names) if u.per_street else 1))
    unit_idx: list[np.ndarray] = []
    role_idx: list[np.ndarray] = []
    reg: list[np.ndarray] = []
    for i, (_info, spec) in enumerate(zip(units, spec_of, strict=True)):
        st = spec.staff
        counts = [st.command, st.basic_operations, st.key_personnel_safety, st.other]
        roles = np.repeat(np.arange(4), counts)
        unit_idx.append(np.full(roles.size, i, dtype=np.int64))
        role_idx.append(roles)
        reg.append(rng.random(roles.size) < spec.registered_share)
    del specs
    unit = np.concatenate(unit_idx) if unit_idx else np.empty(0, dtype=np.int64)
    role = np.concatenate(role_idx).astype(np.int64) if role_idx else np.empty(0, dtype=np.int64)
    registered = np.concatenate(reg) if reg else np.empty(0, dtype=bool)
    n_comm = community_residents.size
    w = community_residents / community_residents.sum()
    residence = np.where(registered, rng.choice(n_comm, size=unit.size, p=w), -1).astype(np.int64)
    callable_roles = np.array([r in mobilised_roles("extreme") for r in ROLES])
    sendable = callable_roles[role]
    destination = np.full(unit.size, -1, dtype=np.int64)
    goes_home = sendable & (residence >= 0)
    if em.redirect_registered_outside_area:
        goes_home &= in_area[np.maximum(residence, 0)]
    destination[goes_home] = residence[goes_home]
    need = community_need.astype(float)
    if need.sum() <= 0:
        need = community_residents.astype(float)
    placed = np.bincount(destination[destination >= 0], minlength=n_comm).astype(float)
    # others first, then basic operations (called only in the extreme state)
    order = np.concatenate(
        [
            np.flatnonzero(sendable & ~goes_home & (role == ROLE_INDEX["other"])),
            np.flatnonzero(sendable & ~goes_home & (role == ROLE_INDEX["basic_operations"])),
        ]
    )
    for k in order:
        c = int(np.argmax(need / (placed + 1.0)))
        destination[k] = c
        placed[c] += 1.0
    return Roster(units, unit, role, residence, destination)
