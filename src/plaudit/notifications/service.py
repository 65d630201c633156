"""The `emails.*_due` webhooks: scheduled by events and completions, written by the sweeps.

The event path costs one statement per batch: an upsert of the batch's users' schedule
rows (reactivation restarts its sequence; a pending recap or streak reminder is kept).
Whether a message may go to the user (control group, `subscribeToEmails`, preferences)
is decided when it is due, so a preference changed in between is honoured.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import case, func, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from plaudit.achievements import views
from plaudit.achievements.completion import COMPLETION_HOOKS, Completed
from plaudit.achievements.rules import AchievementConfig
from plaudit.core import fastsql
from plaudit.core.db import insert_for
from plaudit.core.fastsql import FastStatement
from plaudit.core.periods import Unit, zone
from plaudit.core.schemas import format_timestamp
from plaudit.notifications import rules
from plaudit.notifications.tables import achievement_messages, notification_schedule
from plaudit.platform.config import ScopeConfig
from plaudit.streaks import rules as streak_rules
from plaudit.streaks import service as streaks
from plaudit.streaks.rules import StreakSettings, StreakState
from plaudit.users.rules import UserState
from plaudit.users.service import to_wire as user_wire
from plaudit.users.tables import user_preferences
from plaudit.webhooks.outbox import WebhookEvent, emit, wanted

# Streak history periods in the reminder's StreakResponse (the API's default).
REMINDER_HISTORY_PERIODS = 7


def recap_unit(config: ScopeConfig) -> Unit:
    return rules.RECAP_UNITS[config.settings.aggregation_period]


async def after_events(
    conn: AsyncConnection, config: ScopeConfig, active: Sequence[UserState], now: dt.datetime
) -> None:
    """Users of a batch who recorded a metric event at `now`: one upsert of their rows."""
    unit = recap_unit(config)
    rows: list[dict[str, Any]] = []
    for user in {u.pk: u for u in active}.values():
        tz = rules.user_zone(user.tz)
        dues: list[tuple[rules.Kind, dt.datetime | None]] = [
            (rules.REACTIVATION, rules.reactivation_due(now, 0, tz)),
            (rules.RECAP, rules.recap_due(now, unit, config.week_starts_on, tz)),
        ]
        if config.streaks.enabled:
            # In the streak's own zone (the scope default for users without `tz`): the
            # reminder must come before the period it warns about ends.
            streak_tz = zone(streaks.user_tz(config, user))
            reminder = rules.reminder_due(now, config.streaks.frequency, streak_tz)
            dues.append((rules.STREAK_REMINDER, reminder))
        rows += [
            {
                "user_pk": user.pk,
                "kind": kind,
                "scope_id": config.scope_id,
                "last_active": now,
                "sent": 0,
                "due": due,
            }
            for kind, due in dues
        ]
    await fastsql.execute_many(conn, _TOUCH, rows)


def _touch(dialect: str) -> Any:
    table = notification_schedule
    stmt = insert_for(dialect, table)
    restart = table.c.kind == rules.REACTIVATION
    return stmt.on_conflict_do_update(
        index_elements=["user_pk", "kind"],
        set_={
            "last_active": stmt.excluded.last_active,
            # Any event restarts the reactivation sequence; a recap or reminder already
            # pending stays (it covers a period with activity, or is still ahead).
            "sent": case((restart, 0), else_=table.c.sent),
            "due": case(
                (restart, stmt.excluded.due), else_=func.coalesce(table.c.due, stmt.excluded.due)
            ),
        },
    )


# Compiled once per dialect and sent as one executemany on the driver connection: this
# runs for every event batch, and compiling an upsert per call cost a fifth of an event.
_TOUCH = FastStatement(_touch)


async def notification_preferences(
    conn: AsyncConnection, pks: Sequence[int]
) -> dict[int, dict[str, Any]]:
    if not pks:
        return {}
    rows = await conn.execute(
        select(user_preferences.c.user_pk, user_preferences.c.notifications).where(
            user_preferences.c.user_pk.in_(pks)
        )
    )
    return {row.user_pk: dict(row.notifications or {}) for row in rows}


def user_payload(user: UserState) -> dict[str, Any]:
    return user_wire(user).model_dump(mode="json", by_alias=True)


def achievement_event(
    config: ScopeConfig,
    user: UserState,
    achievement: AchievementConfig,
    achieved_at: dt.datetime,
    at: dt.datetime,
) -> WebhookEvent:
    body = views.user_achievement(config, achievement, achieved_at)
    return WebhookEvent(
        "emails.achievement_due",
        {
            "timestamp": format_timestamp(at),
            "user": user_payload(user),
            "achievement": body.model_dump(mode="json", by_alias=True),
        },
    )


async def on_completed(
    conn: AsyncConnection, config: ScopeConfig, done: Sequence[Completed], now: dt.datetime
) -> None:
    """A completion hook (never called for backdated completions): send now inside the
    17:00-21:00 local window, otherwise keep the message for its send time."""
    now_events: list[Completed] = []
    later: list[dict[str, Any]] = []
    for c in done:
        due = rules.achievement_due(c.achieved_at, rules.user_zone(c.user.tz))
        if due <= now:
            now_events.append(c)
        else:
            later.append(
                {
                    "completion_id": c.completion_id,
                    "scope_id": config.scope_id,
                    "user_pk": c.user.pk,
                    "achievement_id": c.achievement.id,
                    "achieved_at": c.achieved_at,
                    "due": due,
                }
            )
    if later:
        await conn.execute(insert(achievement_messages), later)
    if now_events and wanted(config.webhooks, "emails.achievement_due"):
        prefs = await notification_preferences(
            conn, [c.user.pk for c in now_events if c.user.pk is not None]
        )
        events = [
            achievement_event(config, c.user, c.achievement, c.achieved_at, now)
            for c in now_events
            if rules.eligible(c.user, prefs_of(prefs, c.user), rules.ACHIEVEMENT)
        ]
        await emit(conn, config.scope_id, events, now, interest=config.webhooks)


COMPLETION_HOOKS.append(on_completed)


async def streak_response(
    conn: AsyncConnection,
    user: UserState,
    state: StreakState,
    settings: StreakSettings,
    now: dt.datetime,
) -> dict[str, Any]:
    """StreakResponse as `GET /users/{id}/streak` answers it (default history)."""
    assert user.pk is not None
    state = await streaks.with_history(conn, user.pk, state, settings, REMINDER_HISTORY_PERIODS)
    view = streak_rules.view(state, settings, now)
    freezes_on = settings.freezes is not None
    history: list[dict[str, Any]] = []
    for entry in streak_rules.history(state, settings, REMINDER_HISTORY_PERIODS, now):
        item: dict[str, Any] = {
            "periodStart": entry.period.start.isoformat(),
            "periodEnd": entry.period.end.isoformat(),
            "length": entry.length,
            "usedFreeze": entry.used_freeze if freezes_on else False,
            "usedPause": entry.used_pause,
        }
        if entry.reset_at is not None:
            item["resetAt"] = format_timestamp(entry.reset_at)
        history.append(item)
    return {
        **streaks.base_streak(view),
        "extended": format_timestamp(view.extended_at) if view.extended_at else None,
        "streakHistory": history,
        "pauses": [
            {"id": p.id, "start": p.start.isoformat(), "end": p.end.isoformat()}
            for p in streak_rules.visible_pauses(state, now)
        ],
    }


def reminder_wanted(state: StreakState, settings: StreakSettings, now: dt.datetime) -> bool:
    """An active streak that the current period has not extended yet."""
    state = streak_rules.catch_up(state, settings, now).state
    return (
        settings.enabled
        and state.length > 0
        and state.covered != streak_rules.current_period(state, settings)
    )


def prefs_of(found: Mapping[int, dict[str, Any]], user: UserState) -> dict[str, Any] | None:
    return found.get(user.pk) if user.pk is not None else None
