"""Python SDK: `admin.streaks.settings` (SDK 1.27)."""

from __future__ import annotations

import pytest
from trophy import TrophyApi
from trophy.errors import UnprocessableEntityError
from trophy.types import CreatedMetric, StreakSettingsMetric, UpdateStreakSettingsFreezes

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
