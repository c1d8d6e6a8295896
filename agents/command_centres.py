"""Community offices, street command centres (基层治理指挥中心) and the district centre.

The community office handles what the grid cannot; the street centre's dispatchers assess
each ticket (~6 minutes, Beijing 12345) and dispatch it to one of the street's four boards
(板块, Jiangbei); the district city-operations centre dispatches to departments.
"""

from __future__ import annotations

from twin.sim.stations import Station


class CommunityOffice(Station):
    """Community staff (社区工作者) handling cases escalated from the grids."""

    role = "community_staff"
    level = 1


class StreetCentre(Station):
    """A street command centre's dispatchers (assess and 派单 to a board)."""

    role = "street_dispatcher"
    level = 2


class DistrictCentre(Station):
    """The district city-operations centre's dispatchers (派单 to departments)."""

    role = "district_dispatcher"
    level = 3


class DutyRoster(Station):
    """A community's people on duty (值班) at night and on rest days, for emergencies only."""

    role = "duty"
    level = 1
