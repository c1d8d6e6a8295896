"""Boards (板块) of a street and the district's functional departments.

A board handles the cases its street centre dispatches to it (party building, economy,
livelihood, safety and law — Jiangbei's four boards); a department handles what reaches
the district centre (吹哨派单). Head counts and working hours come from the scenario.
"""

from __future__ import annotations

from twin.sim.stations import Station


class Board(Station):
    """One street's board (板块) staff."""

    role = "board"
    level = 2


class Department(Station):
    """A district department's case officers."""

    role = "department"
    level = 3
