"""Python SDK: `admin.streaks.settings`, `.freezes`, `.pauses`, `.restore` and `.reset` (SDK
1.27)."""

from __future__ import annotations

import datetime as dt

import pytest
from trophy import TrophyApi, UpsertedUser
from trophy.admin.streaks import (
    CreateStreakFreezesRequestFreezesItem,
    CreateStreakPausesRequestPausesItem,
    ResetStreaksRequestUsersItem,
    RestoreStreaksRequestUsersItem,
)
from trophy.errors import BadRequestError, UnprocessableEntityError
from trophy.types import (
    AdminIssue,
    CreatedMetric,
    DeletedResource,
    StreakSettingsMetric,
    UpdateStreakSettingsFreezes,
)

from tests.compat.sdk import api_error

pytestmark = pytest.mark.compat


def test_streak_settings_get_and_update(client: TrophyApi, lessons: CreatedMetric) -> None:
    settings = client.admin.streaks.settings.get()
    assert (settings.frequency, settings.evaluation_mode, settings.metrics) == ("daily", "AND", [])
    assert settings.freezes is None

    updated = client.admin.streaks.settings.update(
        frequency="weekly",
        evaluation_mode="OR",
        metrics=[StreakSettingsMetric(key="lessons", threshold=3)],
        freezes=UpdateStreakSettingsFreezes(
            start_count=1, max_count=3, auto_earn_interval=7, auto_earn_amount=1
        ),
    )
    assert updated.frequency == "weekly"
    assert updated.metrics == [StreakSettingsMetric(key="lessons", threshold=3)]
    assert updated.freezes is not None
    assert updated.freezes.auto_earn_interval == 7
    assert client.admin.streaks.settings.get() == updated

    # Only the fields sent change.
    assert client.admin.streaks.settings.update(customization_enabled=True).metrics == [
        StreakSettingsMetric(key="lessons", threshold=3)
    ]
    message = api_error(
        422,
        lambda: client.admin.streaks.settings.update(days_off=[1]),
        UnprocessableEntityError,
    )
    assert "daily" in message


def _issues(issues: list[AdminIssue]) -> list[tuple[str | None, str, str]]:
    return [(i.user_id or i.id, str(i.severity), i.message) for i in issues]


def test_streak_freezes_pauses_reset_and_restore(client: TrophyApi, lessons: CreatedMetric) -> None:
    client.admin.streaks.settings.update(
        metrics=[StreakSettingsMetric(key="lessons", threshold=1)],
        freezes=UpdateStreakSettingsFreezes(start_count=0, max_count=1),
    )
    first = client.metrics.event("lessons", user=UpsertedUser(id="sdk-a", tz="UTC"), value=1)
    assert first.current_streak is not None
    assert first.current_streak.length == 1

    granted = client.admin.streaks.freezes.create(
        freezes=[
            CreateStreakFreezesRequestFreezesItem(user_id="sdk-a"),
            CreateStreakFreezesRequestFreezesItem(user_id="sdk-a"),
            CreateStreakFreezesRequestFreezesItem(user_id="nobody"),
        ]
    )
    assert _issues(granted.issues) == [
        ("sdk-a", "warning", "Would exceed maximum freeze limit"),
        ("nobody", "error", "User does not exist"),
    ]
    assert client.users.streak("sdk-a").freezes == 1

    # Far enough ahead to be in the future in every time zone.
    start = dt.date.today() + dt.timedelta(days=10)
    created = client.admin.streaks.pauses.create(
        pauses=[
            CreateStreakPausesRequestPausesItem(
                user_id="sdk-a", start=start.isoformat(), end=(start + dt.timedelta(2)).isoformat()
            ),
            CreateStreakPausesRequestPausesItem(
                user_id="sdk-a", start="2000-01-01", end="2000-01-02"
            ),
        ]
    )
    [pause] = created.created
    assert (pause.user_id, pause.start, pause.status) == ("sdk-a", start.isoformat(), "active")
    assert _issues(created.issues) == [("sdk-a", "error", "start must not be in the past")]
    assert [p.id for p in client.users.streak("sdk-a").pauses] == [pause.id]
    deleted = client.admin.streaks.pauses.delete(ids=[pause.id, "not-a-uuid"])
    assert deleted.deleted == [DeletedResource(id=pause.id)]
    assert _issues(deleted.issues) == [("not-a-uuid", "error", "id must be a valid UUID")]
    assert client.users.streak("sdk-a").pauses == []

    reset = client.admin.streaks.reset(
        users=[ResetStreaksRequestUsersItem(id="sdk-a"), ResetStreaksRequestUsersItem(id="nobody")]
    )
    assert reset.reset_users == ["sdk-a"]
    assert _issues(reset.issues) == [("nobody", "error", "User does not exist")]
    after_reset = client.users.streak("sdk-a", history_periods=1)
    assert after_reset.length == 0
    assert after_reset.streak_history[-1].reset_at is not None

    restored = client.admin.streaks.restore(users=[RestoreStreaksRequestUsersItem(id="sdk-a")])
    assert (restored.restored_users, restored.issues) == (["sdk-a"], [])
    assert client.users.streak("sdk-a").length == 1
    again = client.admin.streaks.restore(users=[RestoreStreaksRequestUsersItem(id="sdk-a")])
    assert _issues(again.issues) == [("sdk-a", "warning", "No streak to restore")]


def test_streak_admin_errors_map_to_the_sdks_classes(client: TrophyApi) -> None:
    message = api_error(
        400, lambda: client.admin.streaks.freezes.create(freezes=[]), BadRequestError
    )
    assert "freezes" in message
    api_error(400, lambda: client.admin.streaks.reset(users=[]), BadRequestError)
    api_error(400, lambda: client.admin.streaks.restore(users=[]), BadRequestError)
    bad_date = CreateStreakPausesRequestPausesItem(user_id="a", start="soon", end="2999-01-01")
    message = api_error(
        422,
        lambda: client.admin.streaks.pauses.create(pauses=[bad_date]),
        UnprocessableEntityError,
    )
    assert "pauses.0.start" in message
    message = api_error(422, lambda: client.admin.streaks.pauses.delete(), UnprocessableEntityError)
    assert message == "ids is required"
