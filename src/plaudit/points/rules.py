"""Points rules: pure functions (no I/O; the clock is passed in).

Metric crossings with a high-water mark, boost windows, stacking and rounding, caps and
floors, levels, boost statuses and announcement times, the balance histogram, and the
due times of time triggers.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from zoneinfo import ZoneInfo

from plaudit.core.periods import local_date, start_of_local_day
from plaudit.points.config import Boost, Filters, Level

MICRO = 1_000_000
MAX_BALANCE = 10**18  # a balance never passes this (BIGINT holds 9.2 x 10^18)
# Rounding modes from the most to the least conservative: stacked boosts with different
# modes round with the most conservative one present.
ROUNDING_ORDER = ("down", "nearest", "up")
EARLIEST_ZONE = dt.timedelta(hours=14)  # UTC+14: where a date begins first
LATEST_ZONE = dt.timedelta(hours=12)  # UTC-12: where a date ends last


def matches(filters: Filters, attributes: Mapping[str, str] | None) -> bool:
    """Every (key, value) filter holds for `attributes`."""
    found = attributes or {}
    return all(found.get(key) == value for key, value in filters)


@dataclass(frozen=True, slots=True)
class Marks:
    """A metric trigger's progress for one user: the running sum since activation and the
    highest it has ever been (millionths)."""

    acc: int = 0
    hwm: int = 0


def metric_step(marks: Marks, value: int, threshold: int) -> tuple[Marks, int]:
    """Add one event's value; the new marks and how many thresholds were newly crossed.

    Only the part above the high-water mark counts, so a decrease never reverses an
    award and re-crossing a level already passed never awards twice."""
    acc = marks.acc + value
    unit = threshold * MICRO
    crossings = max(acc, marks.hwm) // unit - marks.hwm // unit
    return Marks(acc, max(marks.hwm, acc)), max(crossings, 0)


def boost_applies(
    boost: Boost, user_pk: int | None, attributes: Mapping[str, str], day: dt.date
) -> bool:
    """Does `boost` apply to an award on the user's local date `day`?"""
    if boost.user_pk is not None and boost.user_pk != user_pk:
        return False
    if boost.user_pk is None and not matches(boost.user_filters, attributes):
        return False
    return boost.start <= day and (boost.end is None or day <= boost.end)


@lru_cache(maxsize=1024)
def _stacked(boosts: tuple[tuple[float, str], ...]) -> tuple[int, int, str]:
    """The exact product of the multipliers (as written in decimal), as numerator and
    denominator, and the rounding mode."""
    product = Fraction(1)
    for multiplier, _ in boosts:
        product *= Fraction(str(multiplier))
    mode = min((mode for _, mode in boosts), key=ROUNDING_ORDER.index)
    return product.numerator, product.denominator, mode


def boosted(raw: int, boosts: Sequence[Boost]) -> int:
    """A positive raw award multiplied by every boost (exactly), rounded once."""
    if raw <= 0 or not boosts:
        return raw
    numerator, denominator, mode = _stacked(tuple((b.multiplier, b.rounding) for b in boosts))
    product = raw * numerator
    if mode == "down":
        return product // denominator
    if mode == "up":
        return -(-product // denominator)
    return (2 * product + denominator) // (2 * denominator)  # x.5 rounds up


def settle(raw: int, balance: int, max_points: int | None) -> int:
    """The amount actually awarded: positive awards stop at the cap (without one, at
    MAX_BALANCE, which keeps balances inside 64-bit columns), deductions at 0."""
    if raw > 0:
        cap = MAX_BALANCE if max_points is None else min(max_points, MAX_BALANCE)
        return max(0, min(raw, cap - balance))
    return max(raw, -balance)


def level_for(levels: Sequence[Level], balance: int) -> Level | None:
    """The level with the highest threshold at or below `balance` (levels sorted)."""
    reached = None
    for level in levels:
        if level.points <= balance:
            reached = level
        else:
            break
    return reached


def global_status(boost: Boost, now: dt.datetime) -> str:
    """`scheduled` until the start date begins anywhere, `finished` once the end date has
    ended everywhere."""
    begins = dt.datetime.combine(boost.start, dt.time(0), tzinfo=dt.UTC) - EARLIEST_ZONE
    if now < begins:
        return "scheduled"
    if boost.end is not None:
        ends = dt.datetime.combine(boost.end + dt.timedelta(days=1), dt.time(0), tzinfo=dt.UTC)
        if now >= ends + LATEST_ZONE:
            return "finished"
    return "active"


def local_status(boost: Boost, now: dt.datetime, tz: ZoneInfo) -> str:
    """The status in one time zone (user-specific boosts, and the user's own view)."""
    day = local_date(now, tz)
    if day < boost.start:
        return "scheduled"
    if boost.end is not None and day > boost.end:
        return "finished"
    return "active"


def announcements(boost: Boost, tz: ZoneInfo | None) -> tuple[dt.datetime, dt.datetime | None]:
    """When `points.boost_started` and `points.boost_finished` go out.

    Global and cohort boosts: 10:00 UTC the day before the UTC start date, and 13:00 UTC
    the day after the end date. User-specific boosts: the start and end in the user's zone.
    """
    if tz is None:
        started = dt.datetime.combine(
            boost.start - dt.timedelta(days=1), dt.time(10), tzinfo=dt.UTC
        )
        finished = (
            None
            if boost.end is None
            else dt.datetime.combine(boost.end + dt.timedelta(days=1), dt.time(13), tzinfo=dt.UTC)
        )
        return started, finished
    started = start_of_local_day(boost.start, tz)
    finished = (
        None if boost.end is None else start_of_local_day(boost.end + dt.timedelta(days=1), tz)
    )
    return started, finished


def next_announcement(
    boost: Boost, tz: ZoneInfo | None, announced: str | None
) -> tuple[dt.datetime | None, str | None]:
    """The next announcement still to send after `announced` (None, started or finished)."""
    started, finished = announcements(boost, tz)
    if announced is None:
        return started, "started"
    if announced == "started" and finished is not None:
        return finished, "finished"
    return None, None


@dataclass(frozen=True, slots=True)
class Range:
    start: int
    end: int
    users: int


def histogram_width(top: int) -> int:
    """The width of the ten ranges for a highest balance of `top`: a tenth of `top`
    rounded up to a power of 10 (at least 10)."""
    ceiling = 10
    while ceiling < top:
        ceiling *= 10
    return ceiling // 10


def histogram_bucket(value: int, width: int) -> int:
    """0 for the 0-0 range, else 1..10."""
    return 0 if value <= 0 else min(10, (value - 1) // width + 1)


def histogram_ranges(width: int, counts: Mapping[int, int]) -> list[Range]:
    """Eleven inclusive ranges from the number of users in each bucket."""
    ranges = [Range(0, 0, counts.get(0, 0))]
    ranges += [Range((i - 1) * width + 1, i * width, counts.get(i, 0)) for i in range(1, 11)]
    return ranges


def histogram(balances: Iterable[int]) -> list[Range]:
    """Eleven inclusive ranges: 0-0, then ten equal ranges up to the highest balance
    rounded up to a power of 10 (at least 10)."""
    values = list(balances)
    width = histogram_width(max(values, default=0))
    counts: dict[int, int] = {}
    for value in values:
        bucket = histogram_bucket(value, width)
        counts[bucket] = counts.get(bucket, 0) + 1
    return histogram_ranges(width, counts)


def next_due(unit: str, interval: int, previous: dt.datetime, tz: ZoneInfo) -> dt.datetime:
    """A time trigger's next firing after `previous` (or after its anchor: the later of the
    user's creation and the trigger's activation): `interval` hours on, or local midnight
    `interval` days after the local date."""
    if unit == "hours":
        return previous + dt.timedelta(hours=interval)
    return start_of_local_day(local_date(previous, tz) + dt.timedelta(days=interval), tz)
