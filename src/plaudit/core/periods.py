"""Calendar periods (day, week, month) in a user's IANA time zone. Pure functions.

A local day starts at the first instant whose wall-clock date is that day: on days where
midnight is skipped by a DST change, that is the transition itself.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from typing import Literal
from zoneinfo import ZoneInfo, available_timezones

Unit = Literal["day", "week", "month"]
SUNDAY = 0


@lru_cache(maxsize=1)
def _known_zones() -> frozenset[str]:
    return frozenset(available_timezones())


def is_valid_timezone(name: str) -> bool:
    return name in _known_zones()


@lru_cache(maxsize=1024)
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def local_date(instant: dt.datetime, tz: ZoneInfo) -> dt.date:
    return instant.astimezone(tz).date()


def start_of_local_day(day: dt.date, tz: ZoneInfo) -> dt.datetime:
    """The UTC instant at which `day` begins in `tz`."""
    candidate = dt.datetime.combine(day, dt.time(0), tzinfo=tz).astimezone(dt.UTC)
    # fold=0 maps a skipped midnight onto the transition instant; guard the rare zone
    # whose local date at that instant is still the previous day.
    while candidate.astimezone(tz).date() < day:
        candidate += dt.timedelta(minutes=15)
    return candidate


def weekday_js(day: dt.date) -> int:
    """0 = Sunday … 6 = Saturday, the numbering of the API (JavaScript getDay)."""
    return (day.weekday() + 1) % 7


def period_start(day: dt.date, unit: Unit, week_starts_on: int = SUNDAY) -> dt.date:
    if unit == "day":
        return day
    if unit == "week":
        return day - dt.timedelta(days=(weekday_js(day) - week_starts_on) % 7)
    return day.replace(day=1)


def add_periods(start: dt.date, unit: Unit, count: int) -> dt.date:
    if unit == "day":
        return start + dt.timedelta(days=count)
    if unit == "week":
        return start + dt.timedelta(weeks=count)
    months = start.year * 12 + (start.month - 1) + count
    return dt.date(months // 12, months % 12 + 1, 1)


def period_end(start: dt.date, unit: Unit) -> dt.date:
    """The last local date of the period beginning at `start` (inclusive)."""
    return add_periods(start, unit, 1) - dt.timedelta(days=1)


def period_starts(
    first: dt.date, last: dt.date, unit: Unit, week_starts_on: int = SUNDAY
) -> list[dt.date]:
    """Starts of every period that intersects the inclusive date range [first, last]."""
    starts: list[dt.date] = []
    current = period_start(first, unit, week_starts_on)
    while current <= last:
        starts.append(current)
        current = add_periods(current, unit, 1)
    return starts
