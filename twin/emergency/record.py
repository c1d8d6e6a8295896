"""What one model's ``[emergency]`` section leaves for the ``modes`` block, as small plain values.

A run on processes or Dask keeps each partition's model in its worker; only the partition's
record travels back (issue 18). :func:`record_of` takes from a finished
:class:`~twin.emergency.component.EmergencyComponent` exactly what
:func:`twin.emergency.summary.modes_block`, the mode series and the call-up table read — the
case records, the roster's columns, the controller's history, the logs and the series —
without the model, its SimPy environment or its agents; :mod:`twin.emergency.merged` puts the
records of the street partitions and the shared level together. The same records are built
whether the partitions ran here, in processes or on Dask, so the block is the same bit for bit.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import numpy as np

from twin.emergency.arrivals import Arrivals
from twin.emergency.on_call import OnCallLog
from twin.emergency.redeploy import RedeploymentLog
from twin.emergency.roster import ROLE_INDEX
from twin.modes import mobilised_roles
from twin.scenario.emergency import Emergency

if TYPE_CHECKING:  # pragma: no cover
    from agents.mobilised import UnitInfo
    from twin.emergency.component import Duty, EmergencyComponent, Episode


def mobilisable_count(role: np.ndarray, destination: np.ndarray, mode: str) -> int:
    """Head count ``mode`` sends down: members with a destination whose role it does not exempt."""
    roles = [ROLE_INDEX[r] for r in mobilised_roles(mode)]
    return int((np.isin(role, roles) & (destination >= 0)).sum())


@dataclass
class RosterColumns:
    """The roster's columns the summary counts (one model's members, or all partitions')."""

    role: np.ndarray
    residence: np.ndarray
    destination: np.ndarray
    ever_mobilised: np.ndarray

    def __len__(self) -> int:
        return int(self.role.size)


@dataclass
class EmergencyRecord:
    """The attributes of :class:`~twin.emergency.component.EmergencyComponent` the ``modes``
    block reads, as plain values (picklable, small: no model, environment or agent)."""

    em: Emergency
    horizon: float
    cat_names: list[str]
    terr: SimpleNamespace  # grid_community, community_names
    units: list[UnitInfo]
    controller: SimpleNamespace  # history, mode, shadow, suppressed, refused, advisories
    board: SimpleNamespace  # log
    specialists: list[SimpleNamespace]  # team, fixed, kinds
    teams: list[SimpleNamespace]  # community, team
    arrivals: Arrivals
    e_reported: np.ndarray
    e_on_site: np.ndarray
    e_resolved: np.ndarray
    e_by_desk: np.ndarray
    e_specialist: np.ndarray
    e_mode: np.ndarray
    members: RosterColumns
    member_ids: np.ndarray  # each member's place on the territory's roster
    vulnerable: np.ndarray
    duty: Duty | None
    on_site_log: list[tuple[float, int]]
    episodes: list[Episode]
    series: list[dict[str, Any]]
    call_ups: list[tuple[float, int, int, float, str]]
    redeployment: RedeploymentLog
    on_call: OnCallLog

    def mobilisable(self, mode: str) -> int:
        """Head count a mode sends down (see :meth:`EmergencyComponent.mobilisable`)."""
        return mobilisable_count(self.members.role, self.members.destination, mode)


def record_of(comp: EmergencyComponent) -> EmergencyRecord:
    """The record of a finished component (call it in the process that ran the model)."""
    ctl = comp.controller
    mem = comp.members
    return EmergencyRecord(
        em=comp.em,
        horizon=float(comp.m.horizon),
        cat_names=list(comp.cat_names),
        terr=SimpleNamespace(grid_community=comp.terr.grid_community, community_names=list(comp.terr.community_names)),
        units=list(comp.units),
        controller=SimpleNamespace(
            history=list(ctl.history), mode=ctl.mode, shadow=ctl.shadow,
            suppressed=list(ctl.suppressed), refused=list(ctl.refused), advisories=list(ctl.advisories),
        ),
        board=SimpleNamespace(log=list(comp.board.log)),
        specialists=[SimpleNamespace(team=sr.team, fixed=sr.fixed, kinds=list(sr.kinds)) for sr in comp.specialists],
        teams=[SimpleNamespace(community=t.community, team=t.team) for t in comp.teams],
        arrivals=comp.arrivals,
        e_reported=comp.e_reported,
        e_on_site=comp.e_on_site,
        e_resolved=comp.e_resolved,
        e_by_desk=comp.e_by_desk,
        e_specialist=comp.e_specialist,
        e_mode=comp.e_mode,
        members=RosterColumns(mem.role, mem.residence, mem.destination, mem.ever_mobilised),
        member_ids=comp.member_ids,
        vulnerable=comp.vulnerable,
        duty=comp.duty,
        on_site_log=list(comp.on_site_log),
        episodes=list(comp.episodes),
        series=comp.series,
        call_ups=list(comp.call_ups),
        redeployment=comp.redeployment.record(),
        on_call=comp.on_call.record(),
    )
