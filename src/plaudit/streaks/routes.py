"""Admin API `/streaks/settings`."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection
from starlette.responses import Response

from plaudit.core.http import json_response
from plaudit.core.references import METRIC_REFERENCES
from plaudit.core.schemas import error_responses
from plaudit.deps import AdminCaller, Conn, RuntimeDep, scope_config
from plaudit.platform.config import bump_config_version, settings_dict
from plaudit.platform.tables import scopes
from plaudit.streaks.schemas import StreakSettings, UpdateStreakSettingsRequest
from plaudit.streaks.settings import (
    apply_streak_settings_patch,
    metric_in_streak_settings,
    render_streak_settings,
)

admin_router = APIRouter(tags=["Streaks"])

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
