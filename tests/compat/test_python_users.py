"""Python SDK: `users.*` — profiles, preferences, metric progress and event summaries."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
from trophy import TrophyApi, UpsertedUser
from trophy.errors import ForbiddenError, NotFoundError, UnprocessableEntityError
from trophy.types import (
    CreateAttributeRequestItem,
    CreatedMetric,
    CreateMetricRequestItem,
    NotificationPreferences,
    StreakMetricPreference,
    StreakPreferences,
)

from tests.compat.sdk import api_error, unique

pytestmark = pytest.mark.compat


def test_create_returns_201_and_get_reads_the_same_user(client: TrophyApi) -> None:
    user_id = unique("user")
    raw = client.users.with_raw_response.create(
        id=user_id, name="Ada", email="ada@example.com", tz="Asia/Tokyo"
    )
    assert raw.status_code == 201
    created = raw.data
    assert (created.id, created.name, created.email, created.tz) == (
        user_id,
        "Ada",
        "ada@example.com",
        "Asia/Tokyo",
    )
    assert created.subscribe_to_emails is True
    assert created.attributes == {}
    assert created.control is False
    assert created.device_tokens is None
    assert client.users.get(user_id) == created


def test_creating_an_existing_user_is_422(client: TrophyApi) -> None:
    user_id = unique("user")
    client.users.create(id=user_id)
    message = api_error(422, lambda: client.users.create(id=user_id), UnprocessableEntityError)
    assert message == f"User '{user_id}' already exists"


def test_an_unknown_user_is_404_everywhere(client: TrophyApi, lessons: CreatedMetric) -> None:
    ghost = unique("ghost")
    assert api_error(404, lambda: client.users.get(ghost)) == f"User '{ghost}' not found"
    for call in (
        lambda: client.users.update(ghost, name="X"),
        lambda: client.users.get_preferences(ghost),
        lambda: client.users.update_preferences(ghost, notifications=NotificationPreferences()),
        lambda: client.users.all_metrics(ghost),
        lambda: client.users.single_metric(ghost, "lessons"),
        lambda: client.users.metric_event_summary(
            ghost, "lessons", aggregation="daily", start_date="2024-01-01", end_date="2024-01-02"
        ),
    ):
        api_error(404, call, NotFoundError)


def test_identify_creates_then_changes_only_what_is_sent(client: TrophyApi) -> None:
    user_id = unique("user")
    first = client.users.identify(user_id, name="Ada", tz="Europe/Paris", device_tokens=["t1"])
    second = client.users.identify(user_id, email="ada@example.com")
    assert (second.name, second.tz, second.email) == ("Ada", "Europe/Paris", "ada@example.com")
    assert second.device_tokens == ["t1"]
    assert second.created == first.created
    assert second.updated >= first.updated


def test_update_changes_an_existing_user(client: TrophyApi) -> None:
    client.admin.attributes.create(
        request=[CreateAttributeRequestItem(name="Plan", key="plan", type="user")]
    )
    user_id = unique("user")
    client.users.create(id=user_id, name="Ada", sign_up_date="2024-02-29")
    updated = client.users.update(
        user_id, name="Ada L.", subscribe_to_emails=False, attributes={"plan": "pro"}
    )
    assert (updated.name, updated.subscribe_to_emails) == ("Ada L.", False)
    assert updated.attributes == {"plan": "pro"}
    assert updated.sign_up_date == "2024-02-29"
    assert client.users.get(user_id) == updated


@pytest.mark.parametrize(
    ("change", "prefix"),
    [
        (lambda c, u: c.users.identify(u, tz="Mars/Base"), "tz 'Mars/Base' is not an IANA"),
        (
            lambda c, u: c.users.identify(u, subscribe_to_emails=True),
            "subscribeToEmails is true but the user has no email",
        ),
        (
            lambda c, u: c.users.identify(u, attributes={"colour": "red"}),
            "Invalid attribute keys: colour",
        ),
        (lambda c, u: c.users.create(id=u, tz="Mars/Base"), "tz 'Mars/Base' is not an IANA"),
    ],
    ids=["tz", "subscribe-without-email", "undeclared-attribute", "create-with-bad-tz"],
)
def test_invalid_profiles_are_422_and_create_nothing(
    client: TrophyApi, change: Callable[[TrophyApi, str], object], prefix: str
) -> None:
    user_id = unique("user")
    message = api_error(422, lambda: change(client, user_id), UnprocessableEntityError)
    assert message.startswith(prefix), message
    api_error(404, lambda: client.users.get(user_id))


def test_notification_preferences_are_partial_updates(client: TrophyApi) -> None:
    user_id = unique("user")
    client.users.create(id=user_id)
    initial = client.users.get_preferences(user_id)
    assert initial.notifications == NotificationPreferences()
    assert initial.streak is None
    client.users.update_preferences(
        user_id, notifications=NotificationPreferences(recap=["email"], reactivation=[])
    )
    updated = client.users.update_preferences(
        user_id,
        notifications=NotificationPreferences(
            streak_reminder=["push", "email"], achievement_completed=["push"]
        ),
    )
    expected = NotificationPreferences(
        recap=["email"],
        reactivation=[],
        streak_reminder=["push", "email"],
        achievement_completed=["push"],
    )
    assert updated.notifications == expected
    assert client.users.get_preferences(user_id).notifications == expected


@pytest.mark.parametrize(
    "streak",
    [
        StreakPreferences(evaluation_mode="OR"),
        StreakPreferences(metrics=[StreakMetricPreference(key="lessons", threshold=1)]),
        StreakPreferences(days_off=[0, 6]),
    ],
    ids=["evaluationMode", "metrics", "daysOff"],
)
def test_streak_customization_is_403_while_it_is_off(
    client: TrophyApi, lessons: CreatedMetric, streak: StreakPreferences
) -> None:
    user_id = unique("user")
    client.users.create(id=user_id)
    message = api_error(
        403, lambda: client.users.update_preferences(user_id, streak=streak), ForbiddenError
    )
    assert message.startswith("Streak customization is not enabled")
    assert client.users.get_preferences(user_id).streak is None


def test_turning_streaks_off_for_a_user_is_allowed(client: TrophyApi) -> None:
    user_id = unique("user")
    client.users.create(id=user_id)
    updated = client.users.update_preferences(user_id, streak=StreakPreferences(enabled=False))
    assert updated.streak == StreakPreferences(enabled=False)
    assert client.users.get_preferences(user_id).streak == StreakPreferences(enabled=False)


def test_metric_progress_lists_every_metric_with_the_users_total(
    client: TrophyApi, lessons: CreatedMetric
) -> None:
    [words] = client.admin.metrics.create(
        request=[CreateMetricRequestItem(name="Words", key="words")]
    ).created
    user_id = unique("user")
    for value in (1.25, 2):
        client.metrics.event("lessons", user=UpsertedUser(id=user_id), value=value)
    progress = {m.key: m for m in client.users.all_metrics(user_id)}
    assert {key: m.current for key, m in progress.items()} == {"lessons": 3.25, "words": 0}
    assert (progress["words"].id, progress["words"].name) == (words.id, "Words")
    single = client.users.single_metric(user_id, "lessons")
    assert single == progress["lessons"]
    assert (single.id, single.name, single.achievements) == (lessons.id, "Lessons", [])
    message = api_error(404, lambda: client.users.single_metric(user_id, "missing"), NotFoundError)
    assert message == "Metric 'missing' not found"


def test_event_summaries_bucket_todays_events(client: TrophyApi, lessons: CreatedMetric) -> None:
    user_id = unique("user")
    for value in (3, 0.5):
        client.metrics.event("lessons", user=UpsertedUser(id=user_id, tz="UTC"), value=value)
    today = dt.datetime.now(dt.UTC).date()

    def summary(aggregation: str, start: dt.date) -> list[tuple[str, float, float]]:
        items = client.users.metric_event_summary(
            user_id,
            "lessons",
            aggregation=aggregation,
            start_date=start.isoformat(),
            end_date=today.isoformat(),
        )
        return [(item.date, item.total, item.change) for item in items]

    daily = summary("daily", today - dt.timedelta(days=2))
    assert [date for date, _, _ in daily] == [
        (today - dt.timedelta(days=n)).isoformat() for n in (2, 1, 0)
    ]
    assert sum(change for _, _, change in daily) == 3.5
    assert daily[-1][1] == 3.5
    [(week, week_total, _)] = summary("weekly", today)
    assert week <= today.isoformat()
    assert week_total == 3.5
    [month] = summary("monthly", today)
    assert month[:2] == (today.replace(day=1).isoformat(), 3.5)


def test_an_inverted_summary_range_is_422(client: TrophyApi, lessons: CreatedMetric) -> None:
    user_id = unique("user")
    client.users.create(id=user_id)
    message = api_error(
        422,
        lambda: client.users.metric_event_summary(
            user_id, "lessons", aggregation="daily", start_date="2024-01-02", end_date="2024-01-01"
        ),
        UnprocessableEntityError,
    )
    assert message == "startDate must not be after endDate"
