"""One view of the ``[emergency]`` section over coupled partitions (issue 18).

With street partitions the switchover lives in several models: each street partition holds
its own streets' emergency cases, checks, members and stations, and the shared level holds
the district command (the controller, the declarations, the rules). :func:`merged` puts them
back together as the attributes :func:`twin.emergency.summary.modes_block` reads, so the
``modes`` block and the mode series are computed by the same code for one partition or many.
The timeline is the modes in force at the streets (the command's decisions, one notice later);
the declarations, advisories and refusals are the command's, with the times it took them.

Sums are exact where every street acts at the same instants (the district's notices reach
all of them at once): the series' samples, the redeployment log's entries. The on-site count
is the sum of the streets' step functions.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import numpy as np

from twin.emergency.arrivals import Arrivals

if TYPE_CHECKING:  # pragma: no cover
    from twin.emergency.component import Duty, EmergencyComponent, Episode

#: Series columns taken from the first street partition, not summed (the mode in force there).
_MODE_COLUMNS = ("t_min", "mode", "mode_level")


@dataclass
class MergedMembers:
    """The roster over all partitions (what the summary counts)."""

    role: np.ndarray
    residence: np.ndarray
    destination: np.ndarray
    ever_mobilised: np.ndarray

    def __len__(self) -> int:
        return int(self.role.size)


def _on_site_log(streets: Sequence[EmergencyComponent]) -> list[tuple[float, int]]:
    """The sum of the streets' on-site step functions (one entry per instant any changed)."""
    events = sorted(
        ((t, k, n) for k, c in enumerate(streets) for t, n in c.on_site_log), key=lambda e: (e[0], e[1])
    )
    now = [0] * len(streets)
    out: list[tuple[float, int]] = []
    for t, k, n in events:
        now[k] = n
        total = sum(now)
        if out and out[-1][0] == t:
            out[-1] = (t, total)
        else:
            out.append((t, total))
    return out or [(0.0, 0)]


def _episodes(streets: Sequence[EmergencyComponent], log: list[tuple[float, int]], horizon: float) -> list[Episode]:
    """Every step up, with the head count it called and when 50 % / 90 % of them were on site
    (before the next step), over all partitions."""
    first = streets[0].episodes
    out = []
    arr = np.array(log)
    for i, e in enumerate(first):
        ep = copy.copy(e)
        ep.mobilisable = sum(c.episodes[i].mobilisable for c in streets)
        end = first[i + 1].at if i + 1 < len(first) else horizon + 1.0
        ep.t50 = ep.t90 = None
        for share, name in ((0.5, "t50"), (0.9, "t90")):
            hit = np.flatnonzero((arr[:, 0] >= e.at) & (arr[:, 0] < end) & (arr[:, 1] >= share * ep.mobilisable))
            if hit.size:
                setattr(ep, name, float(arr[hit[0], 0] - e.at))
        out.append(ep)
    return out


def _series(parts: Sequence[EmergencyComponent], shared: EmergencyComponent) -> list[dict[str, Any]]:
    """The mode series: every sim samples at the same minutes; counts summed, the mode from
    the first street, the shadow mode (what the command asks for) from the shared level."""
    out = []
    for rows in zip(*(c.series for c in parts), shared.series, strict=True):
        row = dict(rows[0])
        for key, v in row.items():
            if key not in _MODE_COLUMNS and isinstance(v, float):
                row[key] = float(sum(r[key] for r in rows))
        row["shadow_mode"] = rows[-1]["shadow_mode"]
        out.append(row)
    return out


def _duty(streets: Sequence[EmergencyComponent]) -> Duty | None:
    duties = [c.duty for c in streets if c.duty is not None]
    if not duties:
        return None
    d = copy.copy(duties[0])
    d.households = np.concatenate([x.households for x in duties])
    d.done_at = np.concatenate([x.done_at for x in duties])
    return d


class MergedEmergency:
    """The attributes of :class:`EmergencyComponent` the ``modes`` block reads, over the
    street partitions ``streets`` and the district command ``shared``."""

    def __init__(self, streets: Sequence[EmergencyComponent], shared: EmergencyComponent, horizon: float) -> None:
        first = streets[0]
        self.em = first.em
        self.terr = first.terr
        self.cat_names = first.cat_names
        self.units = first.units
        # the modes in force are the streets' (the command's decisions, one notice later); what
        # was suppressed, refused or advised is the command's
        cmd = shared.controller
        self.controller = SimpleNamespace(
            history=first.controller.history, mode=first.controller.mode, shadow=cmd.shadow,
            suppressed=cmd.suppressed, refused=cmd.refused, advisories=cmd.advisories,
        )
        self.board = shared.board
        self.specialists = first.specialists if len(streets) == 1 else []
        self.e_specialist = np.concatenate([c.e_specialist for c in streets])
        for name in ("e_reported", "e_on_site", "e_resolved", "e_by_desk", "e_mode"):
            setattr(self, name, np.concatenate([getattr(c, name) for c in streets]))
        a = [c.arrivals for c in streets]
        self.arrivals = Arrivals(*(np.concatenate([getattr(x, f) for x in a]) for f in ("time", "grid", "category", "app", "travel", "effort")))
        self.members = MergedMembers(
            *(np.concatenate([getattr(c.members, f) for c in streets]) for f in ("role", "residence", "destination", "ever_mobilised"))
        )
        self.vulnerable = np.concatenate([c.vulnerable for c in streets])
        self.duty = _duty(streets)
        self.on_site_log = _on_site_log(streets)
        self.episodes = _episodes(streets, self.on_site_log, horizon)
        self.series = _series(streets, shared)
        self._streets = list(streets)
        self.redeployment = copy.copy(first.redeployment)
        self.redeployment.log = [
            (t, m, sum(c.redeployment.log[i][2] for c in streets), sum(c.redeployment.log[i][3] for c in streets))
            for i, (t, m, _, _) in enumerate(first.redeployment.log)
        ]
        self.redeployment.property_log = [sum(c.redeployment.property_log[i] for c in streets) for i in range(len(first.redeployment.property_log))]
        backlog_hours = sum(c.redeployment.routine_backlog_hours() for c in streets)
        self.redeployment.routine_backlog_hours = lambda: backlog_hours  # type: ignore[method-assign]
        self.teams = first.teams  # every partition builds every community's teams, in one order
        self.call_ups = sorted(
            ((at, int(c.member_ids[k]), t, delay, mode) for c in streets for at, k, t, delay, mode in c.call_ups),
            key=lambda row: (row[0], row[1]),
        )
        self.on_call = copy.copy(first.on_call)
        self.on_call.calls = sorted((call for c in streets for call in c.on_call.calls), key=lambda call: call["t_min"])

    def mobilisable(self, mode: str) -> int:
        return sum(c.mobilisable(mode) for c in self._streets)


def merged(streets: Sequence[EmergencyComponent], shared: EmergencyComponent, horizon: float) -> MergedEmergency:
    """The ``[emergency]`` section of a coupled run, as one (see :class:`MergedEmergency`)."""
    return MergedEmergency(streets, shared, horizon)
