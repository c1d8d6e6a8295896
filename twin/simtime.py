"""Simulated time as people read it: one formatting helper the drill console, its CLI and the
reports share (simulated minute 0 is the scenario's start date at midnight)."""

from __future__ import annotations

from datetime import date, datetime, timedelta


def clock_text(start: date, minute: float) -> str:
    """``day 3 · Wed 07-03 14:20`` for a simulated minute counted from ``start`` at midnight."""
    d = datetime(start.year, start.month, start.day) + timedelta(minutes=minute)
    return f"day {int(minute // 1440) + 1} · {d:%a %m-%d %H:%M}"
