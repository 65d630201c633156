"""Calendar periods in every time zone, DST days included."""

from __future__ import annotations

import datetime as dt
import itertools
from zoneinfo import available_timezones

from hypothesis import given, settings
from hypothesis import strategies as st

from plaudit.core.periods import (
    add_periods,
    is_valid_timezone,
    local_date,
    period_end,
    period_start,
    period_starts,
    start_of_local_day,
    weekday_js,
    zone,
)

ZONES = sorted(available_timezones())
zones = st.sampled_from(ZONES)
days = st.dates(min_value=dt.date(1971, 1, 1), max_value=dt.date(2099, 12, 31))
units = st.sampled_from(["day", "week", "month"])
week_starts = st.integers(min_value=0, max_value=6)


@given(days, zones)
@settings(max_examples=600)
def test_a_local_day_starts_at_its_first_instant(day: dt.date, name: str) -> None:
    tz = zone(name)
    start = start_of_local_day(day, tz)
    assert local_date(start, tz) == day
    assert local_date(start - dt.timedelta(microseconds=1), tz) < day


def test_a_skipped_midnight_starts_the_day_at_the_transition() -> None:
    # Chile moved clocks from 00:00 to 01:00 on 2024-09-08: the day begins at 04:00 UTC.
    tz = zone("America/Santiago")
    start = start_of_local_day(dt.date(2024, 9, 8), tz)
    assert start == dt.datetime(2024, 9, 8, 4, 0, tzinfo=dt.UTC)
    assert start.astimezone(tz).hour == 1


def test_a_repeated_midnight_starts_the_day_at_the_first_one() -> None:
    # Chile moved clocks back from 00:00 to 23:00 on 2024-04-07: 23:00-00:00 happens twice.
    tz = zone("America/Santiago")
    start = start_of_local_day(dt.date(2024, 4, 6), tz)
    assert start == dt.datetime(2024, 4, 6, 3, 0, tzinfo=dt.UTC)


def test_days_across_the_date_line() -> None:
    instant = dt.datetime(2026, 1, 1, 11, 0, tzinfo=dt.UTC)
    assert local_date(instant, zone("Pacific/Kiritimati")) == dt.date(2026, 1, 2)  # UTC+14
    assert local_date(instant, zone("Pacific/Pago_Pago")) == dt.date(2026, 1, 1)  # UTC-11


@given(days, week_starts)
def test_weeks_start_on_the_configured_weekday(day: dt.date, first: int) -> None:
    start = period_start(day, "week", first)
    assert weekday_js(start) == first
    assert 0 <= (day - start).days < 7


def test_weeks_start_on_sunday_by_default() -> None:
    assert period_start(dt.date(2026, 11, 25), "week") == dt.date(2026, 11, 22)
    assert weekday_js(dt.date(2026, 11, 22)) == 0


@given(days)
def test_months_start_on_the_first(day: dt.date) -> None:
    start = period_start(day, "month")
    assert start == dt.date(day.year, day.month, 1)
    assert period_end(start, "month") >= day
    assert period_end(start, "month").month == day.month


@given(days, st.integers(min_value=-400, max_value=400))
def test_adding_months_matches_calendar_arithmetic(day: dt.date, months: int) -> None:
    start = period_start(day, "month")
    total = start.year * 12 + start.month - 1 + months
    if not 1 <= total // 12 <= 9999:
        return
    assert add_periods(start, "month", months) == dt.date(total // 12, total % 12 + 1, 1)


def test_leap_days_and_month_ends() -> None:
    assert period_end(dt.date(2024, 2, 1), "month") == dt.date(2024, 2, 29)
    assert period_end(dt.date(2025, 2, 1), "month") == dt.date(2025, 2, 28)
    assert add_periods(dt.date(2024, 1, 1), "month", 1) == dt.date(2024, 2, 1)
    assert period_starts(dt.date(2024, 2, 28), dt.date(2024, 3, 1), "day") == [
        dt.date(2024, 2, 28),
        dt.date(2024, 2, 29),
        dt.date(2024, 3, 1),
    ]


@given(days, st.integers(min_value=0, max_value=400), units, week_starts)
def test_period_starts_tile_the_range(first: dt.date, span: int, unit: str, wso: int) -> None:
    last = first + dt.timedelta(days=span)
    starts = period_starts(first, last, unit, wso)  # type: ignore[arg-type]
    assert starts[0] <= first
    assert period_end(starts[-1], unit) >= last  # type: ignore[arg-type]
    for current, following in itertools.pairwise(starts):
        assert add_periods(current, unit, 1) == following  # type: ignore[arg-type]


def test_time_zone_names_are_checked_against_the_iana_database() -> None:
    assert is_valid_timezone("Europe/London")
    assert is_valid_timezone("UTC")
    assert not is_valid_timezone("Mars/Olympus_Mons")
    assert not is_valid_timezone("../etc/passwd")
    assert not is_valid_timezone("")
