"""One view of the ``[emergency]`` section over coupled partitions (issue 18).

With street partitions the switchover lives in several models: each street partition holds
its own streets' emergency cases, checks, members and stations, and the shared level holds
the district command (the controller, the declarations, the rules). Each leaves a record
(:mod:`twin.emergency.record`, built in the process that ran it); :func:`merged` puts the
records back together as the attributes :func:`twin.emergency.summary.modes_block` reads, so the
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
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import numpy as np

from twin.emergency.arrivals import Arrivals
from twin.emergency.on_call import OnCallLog
from twin.emergency.record import EmergencyRecord, RosterColumns
from twin.emergency.redeploy import RedeploymentLog

if TYPE_CHECKING:  # pragma: no cover
    from twin.emergency.component import Duty, Episode

#: Series columns taken from the first street partition, not summed (the mode in force there).
_MODE_COLUMNS = ("t_min", "mode", "mode_level")


def _on_site_log(streets: Sequence[EmergencyRecord]) -> list[tuple[float, int]]:
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


def _episodes(streets: Sequence[EmergencyRecord], log: list[tuple[float, int]], horizon: float) -> list[Episode]:
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


def _series(parts: Sequence[EmergencyRecord], shared: EmergencyRecord) -> list[dict[str, Any]]:
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


def _duty(streets: Sequence[EmergencyRecord]) -> Duty | None:
    duties = [c.duty for c in streets if c.duty is not None]
    if not duties:
        return None
    d = copy.copy(duties[0])
    d.households = np.concatenate([x.households for x in duties])
    d.done_at = np.concatenate([x.done_at for x in duties])
    return d


def _redeployment(streets: Sequence[EmergencyRecord]) -> RedeploymentLog:
    """The streets' redeployment logs summed entry by entry (every street applies the rule at
    the same instants), over the union of the communities they simulate."""
    logs = [c.redeployment for c in streets]
    first = logs[0]
    return RedeploymentLog(
        first.spec,
        first.area,
        np.logical_or.reduce([x.own for x in logs]),
        [(t, m, sum(x.log[i][2] for x in logs), sum(x.log[i][3] for x in logs)) for i, (t, m, _, _) in enumerate(first.log)],
        [sum(x.property_log[i] for x in logs) for i in range(len(first.property_log))],
        sum(x.routine_backlog_hours() for x in logs),
    )


def merged(streets: Sequence[EmergencyRecord], shared: EmergencyRecord, horizon: float) -> EmergencyRecord:
    """The ``[emergency]`` section of a coupled run as one record: the street partitions'
    ``streets`` and the district command's ``shared``."""
    first = streets[0]
    # the modes in force are the streets' (the command's decisions, one notice later); what
    # was suppressed, refused or advised is the command's
    cmd = shared.controller
    a = [c.arrivals for c in streets]
    members = RosterColumns(
        *(np.concatenate([getattr(c.members, f) for c in streets]) for f in ("role", "residence", "destination", "ever_mobilised"))
    )
    on_site_log = _on_site_log(streets)
    return EmergencyRecord(
        em=first.em,
        horizon=horizon,
        cat_names=first.cat_names,
        terr=first.terr,
        units=first.units,
        controller=SimpleNamespace(
            history=first.controller.history, mode=first.controller.mode, shadow=cmd.shadow,
            suppressed=cmd.suppressed, refused=cmd.refused, advisories=cmd.advisories,
        ),
        board=shared.board,
        specialists=first.specialists,  # every street partition replays the one pool (component._pool_calls)
        teams=first.teams,  # every partition builds every community's teams, in one order
        arrivals=Arrivals(*(np.concatenate([getattr(x, f) for x in a]) for f in ("time", "grid", "category", "app", "travel", "effort"))),
        e_reported=np.concatenate([c.e_reported for c in streets]),
        e_on_site=np.concatenate([c.e_on_site for c in streets]),
        e_resolved=np.concatenate([c.e_resolved for c in streets]),
        e_by_desk=np.concatenate([c.e_by_desk for c in streets]),
        e_specialist=np.concatenate([c.e_specialist for c in streets]),
        e_mode=np.concatenate([c.e_mode for c in streets]),
        members=members,
        member_ids=np.arange(len(members)),
        vulnerable=np.concatenate([c.vulnerable for c in streets]),
        duty=_duty(streets),
        on_site_log=on_site_log,
        episodes=_episodes(streets, on_site_log, horizon),
        series=_series(streets, shared),
        call_ups=sorted(
            ((at, int(c.member_ids[k]), t, delay, mode) for c in streets for at, k, t, delay, mode in c.call_ups),
            key=lambda row: (row[0], row[1]),
        ),
        redeployment=_redeployment(streets),
        on_call=OnCallLog(first.on_call.spec, sorted((call for c in streets for call in c.on_call.calls), key=lambda call: call["t_min"])),
    )
