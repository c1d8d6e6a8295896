"""What a trainer's action does to the district model: the effects, nothing about logging or wall time.

The mode switch goes through the emergency component's manual API
(:meth:`EmergencyComponent.command`), and an injected incident through its
:meth:`EmergencyComponent.inject` (which appends a row to its arrival and record arrays and
reports and dispatches the case exactly as its arrival process does); what the drill adds
around the component's public objects is:

* **inject an emergency incident** — :func:`inject_incident` draws the case's travel and
  effort from the action's own stream and hands it to ``inject``;
* **send a team to a community** — the component places members once (by registration and
  need); :func:`send_team` moves mobilised members (on site or on the way) from the
  communities with the least waiting work to the chosen one, through the component's own
  arrival callback.

Every random draw comes from the generator the caller passes (one stream per action),
so the model's own streams never shift and a replay gives the same run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from agents.mobilised import EN_ROUTE, ON_SITE
from twin.modes import ModeChange

if TYPE_CHECKING:  # pragma: no cover
    from twin.emergency.component import EmergencyComponent
    from twin.scenario.emergency import Duration


class DrillActionError(ValueError):
    """An action that cannot be carried out now (the message says why, for the trainer)."""


@dataclass(frozen=True)
class Places:
    """Street, community and grid names of the model's territory, resolved to grid indices."""

    grids_of: dict[str, np.ndarray]
    community_of: dict[str, int]
    weights: np.ndarray  # residents per grid

    @classmethod
    def of(cls, comp: EmergencyComponent) -> Places:
        terr = comp.terr
        grids_of: dict[str, np.ndarray] = {}
        for s, name in enumerate(terr.street_names):
            grids_of[name] = np.flatnonzero(terr.grid_street == s)
        for c, name in enumerate(terr.community_names):
            grids_of[name] = np.flatnonzero(terr.grid_community == c)
        for g, name in enumerate(terr.grid_names):
            grids_of[name] = np.array([g])
        return cls(
            grids_of, {n: c for c, n in enumerate(terr.community_names)}, np.asarray(terr.residents, dtype=float)
        )

    def grids(self, place: str) -> np.ndarray:
        try:
            return self.grids_of[place]
        except KeyError:
            raise DrillActionError(
                f"unknown place {place!r}: expected a street (S01), community (S01-C01) or grid (S01-C01-G01)"
            ) from None

    def pick(self, rng: np.random.Generator, place: str, n: int) -> np.ndarray:
        """``n`` grids of a place, drawn by population."""
        g = self.grids(place)
        w = self.weights[g]
        return g[rng.choice(g.size, size=n, p=w / w.sum())]

    def community(self, place: str) -> int:
        """The community of a community or grid name."""
        if place in self.community_of:
            return self.community_of[place]
        g = self.grids(place)
        if g.size != 1:
            raise DrillActionError(f"expected a community (S01-C01) or a grid, got the street {place!r}")
        return int(self.community_of[place.rsplit("-", 1)[0]])


def category_index(comp: EmergencyComponent, category: str) -> int:
    try:
        return comp.cat_names.index(category)
    except ValueError:
        raise DrillActionError(f"unknown emergency category {category!r}: expected one of {comp.cat_names}") from None


def switch_mode(comp: EmergencyComponent, to: str, cause: str, actor: str) -> ModeChange:
    """One legal step of the mode now (raises :class:`twin.modes.ModeError` naming from/to)."""
    return comp.command(to, cause, actor=actor)


def inject_incident(comp: EmergencyComponent, rng: np.random.Generator, kind: int, grid: int) -> str:
    """Report one emergency case (tier E) at ``grid`` now and dispatch it as the component would."""
    cat = comp.em.categories[comp.cat_names[kind]]
    travel = float(comp.em.travel_minutes.sample(rng, 1)[0])
    effort = float(cat.effort_minutes.sample(rng, 1)[0])
    return comp.inject(kind, grid, travel, effort, actor="drill")


def surge_times(rng: np.random.Generator, start: float, per_hour: float, hours: float) -> np.ndarray:
    """Arrival times of a surge: a Poisson process of ``per_hour`` for ``hours`` from ``start`` (minutes)."""
    n = int(rng.poisson(per_hour * hours))
    return np.sort(start + rng.random(n) * hours * 60.0)


def send_team(
    comp: EmergencyComponent, rng: np.random.Generator, community: int, size: int, transfer: Duration
) -> dict[str, Any]:
    """Move up to ``size`` mobilised members (on site or on the way) to ``community``.

    Members are taken from the communities with the least work waiting per member there,
    never from the target; each travels ``transfer`` minutes and joins the target's team
    that is furthest below its share. Raises :class:`DrillActionError` when nobody is
    mobilised (in normal mode nobody is: switch to 应下尽下 first)."""
    mem = comp.members
    teams = comp.teams
    moving = np.isin(mem.state, (EN_ROUTE, ON_SITE)) & (mem.team >= 0)
    team_comm = np.array([t.community for t in teams], dtype=np.int64)
    cand = np.flatnonzero(moving)
    cand = cand[team_comm[mem.team[cand]] != community]
    if cand.size == 0:
        raise DrillActionError(
            "nobody is mobilised to send: switch to 应下尽下 first (in normal mode nobody is sent down)"
        )
    n_comm = comp.terr.n_communities
    waiting = np.array([sum(len(q) for q in comp.queues[c]) for c in range(n_comm)], dtype=float)
    members_at = np.bincount(team_comm[mem.team[cand]], minlength=n_comm).astype(float)
    load = waiting / np.maximum(members_at, 1.0)
    src = team_comm[mem.team[cand]]
    order = np.lexsort((cand, -members_at[src], load[src]))  # least load first, then the biggest groups
    chosen = cand[order[:size]]
    delays = transfer.sample(rng, chosen.size)
    from_counts: dict[str, int] = {}
    for k in chosen.tolist():
        name = comp.terr.community_names[teams[int(mem.team[k])].community]
        from_counts[name] = from_counts.get(name, 0) + 1
    comp.transfer(chosen.tolist(), community, delays.tolist())
    return {
        "moved": int(chosen.size),
        "asked": int(size),
        "from": dict(sorted(from_counts.items())),
        "to": comp.terr.community_names[community],
        "mean_transfer_minutes": round(float(delays.mean()), 1) if delays.size else None,
    }
