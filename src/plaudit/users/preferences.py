"""Per-user notification and streak preferences.

A notification type that was never set is absent (both channels allowed). Streak
overrides of evaluation mode, metrics and days off need streak customization to be
enabled for the scope; `enabled` may always be set.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from plaudit.core.db import dialect_insert
from plaudit.core.errors import Forbidden, Unprocessable
from plaudit.platform.config import ScopeConfig
from plaudit.users.schemas import (
    NotificationPreferences,
    StreakPreferences,
    UpdateUserPreferencesRequest,
    UserPreferencesResponse,
)
from plaudit.users.tables import user_preferences

_CUSTOMIZATION_FIELDS = {
    "evaluation_mode": "evaluationMode",
    "metrics": "metrics",
    "days_off": "daysOff",
}


def _response(
    notifications: dict[str, Any], streak: dict[str, Any] | None
) -> UserPreferencesResponse:
    return UserPreferencesResponse(
        notifications=NotificationPreferences.model_validate(notifications),
        streak=StreakPreferences.model_validate(streak) if streak is not None else None,
    )


async def _stored(
    conn: AsyncConnection, user_pk: int
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    row = (
        await conn.execute(
            select(user_preferences.c.notifications, user_preferences.c.streak).where(
                user_preferences.c.user_pk == user_pk
            )
        )
    ).first()
    if row is None:
        return {}, None
    return dict(row.notifications or {}), (dict(row.streak) if row.streak is not None else None)


async def get(conn: AsyncConnection, user_pk: int) -> UserPreferencesResponse:
    notifications, streak = await _stored(conn, user_pk)
    return _response(notifications, streak)


def merge_streak(
    stored: dict[str, Any] | None, patch: StreakPreferences, config: ScopeConfig
) -> dict[str, Any]:
    sent = patch.model_fields_set
    customizing = [wire for field, wire in _CUSTOMIZATION_FIELDS.items() if field in sent]
    if customizing and not config.streak_customization_enabled:
        raise Forbidden(
            "Streak customization is not enabled: "
            + ", ".join(customizing)
            + " can only be set after enabling customizationEnabled in the streak settings"
        )
    result = dict(stored or {"enabled": True})
    if "enabled" in sent and patch.enabled is not None:
        result["enabled"] = patch.enabled
    if "evaluation_mode" in sent and patch.evaluation_mode is not None:
        result["evaluationMode"] = (
            "AND" if patch.evaluation_mode == "ALL" else patch.evaluation_mode
        )
    if "metrics" in sent and patch.metrics is not None:
        unknown = sorted({m.key for m in patch.metrics} - set(config.metrics_by_key))
        if unknown:
            raise Unprocessable("Unknown metric keys in streak.metrics: " + ", ".join(unknown))
        keys = [m.key for m in patch.metrics]
        if len(keys) != len(set(keys)):
            raise Unprocessable("streak.metrics lists a metric more than once")
        result["metrics"] = [{"key": m.key, "threshold": m.threshold} for m in patch.metrics]
    if "days_off" in sent and patch.days_off is not None:
        if len(set(patch.days_off)) != len(patch.days_off):
            raise Unprocessable("streak.daysOff lists a day more than once")
        result["daysOff"] = sorted(patch.days_off)
    return result


async def update(
    conn: AsyncConnection,
    user_pk: int,
    patch: UpdateUserPreferencesRequest,
    config: ScopeConfig,
    now: dt.datetime,
) -> UserPreferencesResponse:
    notifications, streak = await _stored(conn, user_pk)
    if patch.notifications is not None:
        sent = patch.notifications.model_dump(by_alias=True, exclude_unset=True)
        for kind, channels in sent.items():
            if channels is None:
                raise Unprocessable(
                    f"notifications.{kind} must be a list of channels (email, push)"
                )
            notifications[kind] = list(dict.fromkeys(channels))
    if patch.streak is not None:
        streak = merge_streak(streak, patch.streak, config)
    stmt = dialect_insert(conn, user_preferences).values(
        user_pk=user_pk, notifications=notifications, streak=streak, updated=now
    )
    await conn.execute(
        stmt.on_conflict_do_update(
            index_elements=["user_pk"],
            set_={"notifications": notifications, "streak": streak, "updated": now},
        )
    )
    return _response(notifications, streak)
