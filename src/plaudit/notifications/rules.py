"""When each `emails.*_due` webhook is due and who may receive it. Pure functions.

Every time is a wall-clock hour in the user's time zone, converted to a UTC instant;
users without `tz` are in Eastern Time (notifications.md §2), not in the scope's
default zone that streaks use: that is what Trophy documents for its messages. Streak
reminders are the exception: they follow the streak's own zone, since a reminder sent
at 20:00 Eastern would come after the end of a day counted in UTC.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any, Literal
from zoneinfo import ZoneInfo

from plaudit.core.periods import (
    Unit,
    add_periods,
    local_date,
    period_end,
    period_start,
    start_of_local_day,
    zone,
)
from plaudit.users.rules import UserState

DEFAULT_TZ = "America/New_York"

Kind = Literal["recap", "reactivation", "streak_reminder"]
# Preference keys (user preferences `notifications`) of the four message types.
ACHIEVEMENT = "achievement_completed"
RECAP: Kind = "recap"
REACTIVATION: Kind = "reactivation"
STREAK_REMINDER: Kind = "streak_reminder"

# Days without a metric event after which reactivation messages 1-5 are due.
REACTIVATION_DAYS = (3, 5, 7, 14, 30)
REACTIVATION_HOUR = 17
RECAP_HOUR = 9
ACHIEVEMENT_WINDOW = (17, 21)  # [start, end) local hours in which one is sent at once
DAILY_REMINDER_HOUR = 20  # four hours before the end of the local day
WEEKLY_REMINDER = (4, 9)  # Friday (Python weekday), 09:00
MONTHLY_REMINDER = (25, 9)  # the 25th, 09:00

RECAP_UNITS: dict[str, Unit] = {"daily": "day", "weekly": "week", "monthly": "month"}


def user_zone(tz: str | None) -> ZoneInfo:
    return zone(tz or DEFAULT_TZ)


def at_local(day: dt.date, hour: int, tz: ZoneInfo) -> dt.datetime:
    """The UTC instant of `hour`:00 on `day` in `tz` (a wall time skipped by DST maps to
    the instant after the gap, as zoneinfo's fold=0 does)."""
    return dt.datetime.combine(day, dt.time(hour), tzinfo=tz).astimezone(dt.UTC)


def channel_allowed(notifications: Mapping[str, Any] | None, key: str) -> bool:
    """A type absent from the preferences is allowed; `[]` turns it off everywhere."""
    channels = (notifications or {}).get(key)
    return channels is None or "email" in channels


def eligible(user: UserState, notifications: Mapping[str, Any] | None, key: str) -> bool:
    """notifications.md §2 and §5: no control users, not unsubscribed from emails, and
    the email channel of the type not turned off (an email address is not required)."""
    return not user.control and user.subscribe_to_emails and channel_allowed(notifications, key)


def achievement_due(achieved_at: dt.datetime, tz: ZoneInfo) -> dt.datetime:
    """Completed before 17:00 local: at 17:00; between 17:00 and 21:00: at once (the
    completion time); from 21:00 on: 17:00 the next local day."""
    local = achieved_at.astimezone(tz)
    start, end = ACHIEVEMENT_WINDOW
    if local.hour < start:
        return at_local(local.date(), start, tz)
    if local.hour < end:
        return achieved_at
    return at_local(local.date() + dt.timedelta(days=1), start, tz)


def reactivation_due(last_active: dt.datetime, sent: int, tz: ZoneInfo) -> dt.datetime | None:
    """Message `sent + 1` of the sequence: at 17:00 local on the calendar day that is
    `REACTIVATION_DAYS[sent]` days after the day of the last event; None after the last."""
    if sent >= len(REACTIVATION_DAYS):
        return None
    day = local_date(last_active, tz) + dt.timedelta(days=REACTIVATION_DAYS[sent])
    return at_local(day, REACTIVATION_HOUR, tz)


def recap_due(active_at: dt.datetime, unit: Unit, week_starts_on: int, tz: ZoneInfo) -> dt.datetime:
    """The recap covering the period of `active_at`: 09:00 local on the first day of the
    next period."""
    start = period_start(local_date(active_at, tz), unit, week_starts_on)
    return at_local(add_periods(start, unit, 1), RECAP_HOUR, tz)


def recap_period(
    due: dt.datetime, unit: Unit, week_starts_on: int, tz: ZoneInfo
) -> tuple[dt.date, dt.date]:
    """First and last local dates of the period that ended before the recap due at `due`."""
    current = period_start(local_date(due, tz), unit, week_starts_on)
    start = add_periods(current, unit, -1)
    return start, period_end(start, unit)


def period_started(at: dt.datetime, unit: Unit, week_starts_on: int, tz: ZoneInfo) -> dt.datetime:
    """The UTC instant at which the local period containing `at` began."""
    return start_of_local_day(period_start(local_date(at, tz), unit, week_starts_on), tz)


def reminder_due(after: dt.datetime, frequency: str, tz: ZoneInfo) -> dt.datetime:
    """The first streak reminder time strictly after `after`: daily streaks at 20:00,
    weekly streaks on Friday at 09:00, monthly streaks on the 25th at 09:00 (local)."""
    today = local_date(after, tz)
    if frequency == "daily":
        candidates = [
            at_local(today + dt.timedelta(days=n), DAILY_REMINDER_HOUR, tz) for n in (0, 1)
        ]
    elif frequency == "weekly":
        weekday, hour = WEEKLY_REMINDER
        friday = today + dt.timedelta(days=(weekday - today.weekday()) % 7)
        candidates = [at_local(friday + dt.timedelta(weeks=n), hour, tz) for n in (0, 1)]
    else:
        day, hour = MONTHLY_REMINDER
        month = today.replace(day=1)
        candidates = [
            at_local(add_periods(month, "month", n).replace(day=day), hour, tz) for n in (0, 1)
        ]
    return next(c for c in candidates if c > after)
