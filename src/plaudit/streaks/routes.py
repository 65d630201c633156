"""Admin API `/streaks/settings`; Application API `/users/{id}/streak`, `/streaks`."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection
from starlette.responses import Response

from plaudit.core.bulk import parse_id_list
from plaudit.core.http import json_response
from plaudit.core.references import METRIC_REFERENCES
from plaudit.core.schemas import error_responses, format_timestamp
from plaudit.deps import AdminCaller, AppCaller, Conn, Now, RuntimeDep, scope_config
from plaudit.platform.config import bump_config_version, settings_dict
from plaudit.platform.tables import scopes
from plaudit.streaks import rules, service
from plaudit.streaks.schemas import StreakSettings, UpdateStreakSettingsRequest
from plaudit.streaks.settings import (
    apply_streak_settings_patch,
    metric_in_streak_settings,
    render_streak_settings,
)
from plaudit.users import service as users

admin_router = APIRouter(tags=["Streaks"])
app_router = APIRouter(tags=["Streaks"])

_KEY = "streaks"  # the streak configuration's place in the scope's settings document


async def _scope_settings(conn: AsyncConnection, scope_id: int) -> dict[str, Any]:
    stored = await conn.scalar(select(scopes.c.settings).where(scopes.c.id == scope_id))
    return settings_dict(stored)


@admin_router.get(
    "/streaks/settings",
    operation_id="admin_streaks_settings_get",
    response_model=StreakSettings,
    responses=error_responses(401, 422),
)
async def get_streak_settings(caller: AdminCaller, conn: Conn, runtime: RuntimeDep) -> Response:
    config = await scope_config(runtime, conn, caller)
    keys = {m.id: m.key for m in config.metrics_by_key.values()}
    document = (await _scope_settings(conn, caller.scope_id)).get(_KEY)
    return json_response(render_streak_settings(document, keys))


@admin_router.patch(
    "/streaks/settings",
    operation_id="admin_streaks_settings_update",
    response_model=StreakSettings,
    responses=error_responses(401, 422),
)
async def update_streak_settings(
    body: UpdateStreakSettingsRequest, caller: AdminCaller, conn: Conn, runtime: RuntimeDep
) -> Response:
    config = await scope_config(runtime, conn, caller)
    ids_by_key = {key: m.id for key, m in config.metrics_by_key.items()}
    stored = await _scope_settings(conn, caller.scope_id)
    stored[_KEY] = apply_streak_settings_patch(stored.get(_KEY), body, ids_by_key)
    await conn.execute(update(scopes).where(scopes.c.id == caller.scope_id).values(settings=stored))
    await bump_config_version(conn, caller.scope_id, runtime.config)
    keys = {metric_id: key for key, metric_id in ids_by_key.items()}
    return json_response(render_streak_settings(stored[_KEY], keys))


async def metric_in_use(conn: AsyncConnection, scope_id: int, metric_id: uuid.UUID) -> str | None:
    document = (await _scope_settings(conn, scope_id)).get(_KEY)
    return "the streak settings" if metric_in_streak_settings(document, metric_id) else None


METRIC_REFERENCES.append(metric_in_use)


@app_router.get(
    "/users/{id}/streak",
    operation_id="users_streak",
    responses=error_responses(401, 403, 404, 422),
)
async def user_streak(
    id: str,
    caller: AppCaller,
    conn: Conn,
    runtime: RuntimeDep,
    now: Now,
    history_periods: Annotated[
        int,
        Query(
            alias="historyPeriods",
            ge=1,
            le=rules.HISTORY_LIMIT,
            description="How many periods of history, ending with the current one (1-365).",
        ),
    ] = 7,
) -> Response:
    caller.require_user(id)
    config = await scope_config(runtime, conn, caller)
    user = await users.get(conn, caller.scope_id, id)
    assert user.pk is not None
    found = (await service.read(conn, config, [user], now))[user.pk]
    if found is None:
        return json_response(
            {
                "length": 0,
                "frequency": config.streaks.frequency,
                "started": None,
                "periodStart": None,
                "periodEnd": None,
                "expires": None,
                "extended": None,
                "streakHistory": [],
                "pauses": [],
            }
        )
    state, settings = found
    state = await service.with_history(conn, user.pk, state, settings, history_periods)
    view = rules.view(state, settings, now)
    freezes_on = settings.freezes is not None
    history = []
    for entry in rules.history(state, settings, history_periods, now):
        item: dict[str, object] = {
            "periodStart": entry.period.start.isoformat(),
            "periodEnd": entry.period.end.isoformat(),
            "length": entry.length,
            "usedFreeze": entry.used_freeze if freezes_on else False,
            "usedPause": entry.used_pause,
        }
        if entry.reset_at is not None:
            item["resetAt"] = format_timestamp(entry.reset_at)
        history.append(item)
    return json_response(
        {
            **service.base_streak(view),
            "extended": format_timestamp(view.extended_at) if view.extended_at else None,
            "streakHistory": history,
            "pauses": [
                {"id": p.id, "start": p.start.isoformat(), "end": p.end.isoformat()}
                for p in rules.visible_pauses(state, now)
            ],
        }
    )


@app_router.get(
    "/streaks",
    operation_id="streaks_list",
    responses=error_responses(401, 403, 422),
)
async def bulk_streaks(
    caller: AppCaller,
    conn: Conn,
    runtime: RuntimeDep,
    now: Now,
    user_ids: Annotated[
        list[str] | None,
        Query(alias="userIds", description="Up to 100 user IDs, repeated or comma-separated."),
    ] = None,
) -> Response:
    ids = parse_id_list(user_ids, name="userIds")
    for user_id in ids:
        caller.require_user(user_id)
    config = await scope_config(runtime, conn, caller)
    known = [u for u in [await users.find(conn, caller.scope_id, i) for i in ids] if u]
    streaks = await service.read(conn, config, known, now)
    views: dict[str, rules.StreakView] = {}
    for user in known:
        assert user.pk is not None
        found = streaks[user.pk]
        if found is not None:
            views[user.id] = rules.view(*found, now)
    listed = [
        {
            "userId": user_id,
            "streakLength": views[user_id].length if user_id in views else 0,
            "extended": format_timestamp(at)
            if user_id in views and (at := views[user_id].extended_at)
            else None,
        }
        for user_id in ids
    ]
    listed.sort(key=lambda item: -int(str(item["streakLength"])))  # stable: ties keep order
    return json_response(listed)
