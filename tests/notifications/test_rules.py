"""The send times of the `emails.*_due` webhooks and who may receive them (pure rules)."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest

from plaudit.core.periods import zone
from plaudit.notifications import rules
from plaudit.users.rules import new_user

NY = zone("America/New_York")
TOKYO = zone("Asia/Tokyo")


def utc(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("achieved", "due"),
    [
        ("2030-06-03 12:00", "2030-06-03 21:00"),  # 08:00 EDT → 17:00 EDT
        ("2030-06-03 21:00", "2030-06-03 21:00"),  # 17:00 EDT: at once
        ("2030-06-04 00:59", "2030-06-04 00:59"),  # 20:59 EDT: at once
        ("2030-06-04 01:00", "2030-06-04 21:00"),  # 21:00 EDT → 17:00 the next day
        ("2030-12-03 23:00", "2030-12-03 23:00"),  # 18:00 EST (winter): at once
        ("2030-12-04 02:30", "2030-12-04 22:00"),  # 21:30 EST → 17:00 EST the next day
    ],
)
def test_achievement_messages_wait_for_the_evening_window(achieved: str, due: str) -> None:
    assert rules.achievement_due(utc(achieved), NY) == utc(due)


def test_reactivation_counts_calendar_days_and_ends_after_five() -> None:
    last = utc("2030-03-05 03:00")  # 22:00 EST on 4 March
    dues = [rules.reactivation_due(last, sent, NY) for sent in range(6)]
    # 4 March + 3, 5, 7 days: 17:00 EST, then EDT from 10 March (DST), + 14, + 30.
    assert dues == [
        utc("2030-03-07 22:00"),
        utc("2030-03-09 22:00"),
        utc("2030-03-11 21:00"),
        utc("2030-03-18 21:00"),
        utc("2030-04-03 21:00"),
        None,
    ]


def test_a_recap_is_due_at_nine_on_the_first_day_of_the_next_period() -> None:
    wednesday = utc("2030-06-05 12:00")
    due = rules.recap_due(wednesday, "week", 0, TOKYO)
    assert due == utc("2030-06-09 00:00")  # Sunday 09:00 in Tokyo
    assert rules.recap_period(due, "week", 0, TOKYO) == (dt.date(2030, 6, 2), dt.date(2030, 6, 8))
    monday_weeks = rules.recap_due(wednesday, "week", 1, TOKYO)
    assert monday_weeks == utc("2030-06-10 00:00")
    monthly = rules.recap_due(wednesday, "month", 0, NY)
    assert monthly == utc("2030-07-01 13:00")
    june = (dt.date(2030, 6, 1), dt.date(2030, 6, 30))
    assert rules.recap_period(monthly, "month", 0, NY) == june


def test_streak_reminders_by_frequency() -> None:
    at_20 = utc("2030-06-04 00:00")  # 20:00 EDT on 3 June
    assert rules.reminder_due(utc("2030-06-03 12:00"), "daily", NY) == at_20
    assert rules.reminder_due(at_20, "daily", NY) == utc("2030-06-05 00:00")
    # 7 June 2030 is a Friday.
    assert rules.reminder_due(utc("2030-06-03 12:00"), "weekly", NY) == utc("2030-06-07 13:00")
    assert rules.reminder_due(utc("2030-06-07 13:00"), "weekly", NY) == utc("2030-06-14 13:00")
    assert rules.reminder_due(utc("2030-06-03 12:00"), "monthly", TOKYO) == utc("2030-06-25 00:00")
    assert rules.reminder_due(utc("2030-06-25 00:00"), "monthly", TOKYO) == utc("2030-07-25 00:00")


def test_users_without_a_time_zone_are_in_eastern_time() -> None:
    assert rules.user_zone(None) == NY
    assert rules.user_zone("Asia/Tokyo") == TOKYO


def test_eligibility() -> None:
    user = new_user("u", utc("2030-01-01 00:00"), control=False)
    assert rules.eligible(user, None, "recap")
    assert rules.eligible(user, {"recap": ["email"]}, "recap")
    assert rules.eligible(user, {"reactivation": []}, "recap")  # absent type: allowed
    assert not rules.eligible(user, {"recap": []}, "recap")
    assert not rules.eligible(user, {"recap": ["push"]}, "recap")
    assert not rules.eligible(replace(user, control=True), None, "recap")
    assert not rules.eligible(replace(user, subscribe_to_emails=False), None, "recap")
