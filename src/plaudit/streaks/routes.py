"""Admin API `/streaks/settings`, `/streaks/freezes`, `/streaks/pauses`, `/streaks/restore`,
`/streaks/reset`; Application API `/users/{id}/streak`, `/streaks`, `/streaks/rankings`."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection
from starlette.responses import Response

from plaudit.core.bulk import parse_id_list
from plaudit.core.http import json_response
from plaudit.core.references import METRIC_REFERENCES
from plaudit.core.schemas import ApiModel, error_responses, format_timestamp
from plaudit.deps import AdminCaller, AppCaller, Conn, Ids, Now, RuntimeDep, scope_config
from plaudit.platform.config import ScopeConfig, bump_config_version, settings_dict
from plaudit.platform.tables import scopes
from plaudit.streaks import admin, rules, service, store
from plaudit.streaks.schemas import StreakSettings, UpdateStreakSettingsRequest
from plaudit.streaks.settings import (
    apply_streak_settings_patch,
    metric_in_streak_settings,
    render_streak_settings,
)
from plaudit.streaks.store import Stored
from plaudit.streaks.tables import user_streaks
from plaudit.users import service as users
from plaudit.users.rules import UserState
from plaudit.users.tables import user_preferences
from plaudit.users.tables import users as user_table

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


# --- Admin actions (streaks.md §6-8, sdk-1.27.md §1.5) -----------------------------------


@admin_router.post(
    "/streaks/freezes",
    operation_id="admin_streaks_freezes_create",
    status_code=201,
    response_model=admin.CreateStreakFreezesResponse,
    responses={
        200: {"model": admin.CreateStreakFreezesResponse, "description": "No freeze granted"},
        **error_responses(400, 401, 422),
    },
)
async def create_streak_freezes(
    body: admin.CreateStreakFreezesRequest,
    caller: AdminCaller,
    conn: Conn,
    runtime: RuntimeDep,
    now: Now,
) -> Response:
    config = await scope_config(runtime, conn, caller)
    granted, issues = await admin.grant_freezes(conn, config, body.freezes, now)
    return json_response(admin.CreateStreakFreezesResponse(issues=issues), 201 if granted else 200)


@admin_router.post(
    "/streaks/pauses",
    operation_id="admin_streaks_pauses_create",
    status_code=201,
    response_model=admin.CreateStreakPausesResponse,
    responses={
        200: {"model": admin.CreateStreakPausesResponse, "description": "No pause created"},
        **error_responses(401, 422),
    },
)
async def create_streak_pauses(
    body: admin.CreateStreakPausesRequest,
    caller: AdminCaller,
    conn: Conn,
    runtime: RuntimeDep,
    now: Now,
) -> Response:
    config = await scope_config(runtime, conn, caller)
    created, issues = await admin.create_pauses(conn, config, body.pauses, now)
    response = admin.CreateStreakPausesResponse(created=created, issues=issues)
    return json_response(response, 201 if created else 200)


@admin_router.delete(
    "/streaks/pauses",
    operation_id="admin_streaks_pauses_delete",
    response_model=admin.DeleteStreakPausesResponse,
    responses=error_responses(401, 422),
)
async def delete_streak_pauses(
    caller: AdminCaller, conn: Conn, runtime: RuntimeDep, now: Now, ids: Ids = None
) -> Response:
    config = await scope_config(runtime, conn, caller)
    deleted, issues = await admin.delete_pauses(conn, config, parse_id_list(ids), now)
    return json_response(admin.DeleteStreakPausesResponse(deleted=deleted, issues=issues))


@admin_router.post(
    "/streaks/restore",
    operation_id="admin_streaks_restore",
    status_code=201,
    response_model=admin.RestoreStreaksResponse,
    responses={
        200: {"model": admin.RestoreStreaksResponse, "description": "No streak restored"},
        **error_responses(400, 401, 422),
    },
)
async def restore_streaks(
    body: admin.StreakUsersRequest,
    caller: AdminCaller,
    conn: Conn,
    runtime: RuntimeDep,
    now: Now,
) -> Response:
    config = await scope_config(runtime, conn, caller)
    restored, issues = await admin.restore(conn, config, [u.id for u in body.users], now)
    response = admin.RestoreStreaksResponse(restored_users=restored, issues=issues)
    return json_response(response, 201 if restored else 200)


@admin_router.post(
    "/streaks/reset",
    operation_id="admin_streaks_reset",
    response_model=admin.ResetStreaksResponse,
    responses=error_responses(400, 401, 422),
)
async def reset_streaks(
    body: admin.StreakUsersRequest,
    caller: AdminCaller,
    conn: Conn,
    runtime: RuntimeDep,
    now: Now,
) -> Response:
    config = await scope_config(runtime, conn, caller)
    done, issues = await admin.reset(conn, config, [u.id for u in body.users], now)
    return json_response(admin.ResetStreaksResponse(reset_users=done, issues=issues))


# --- Rankings (the Node SDK's `streaks.rankings`) ----------------------------------------


class StreakRankingUser(ApiModel):
    user_id: str
    name: str | None
    streak_length: int


@app_router.get(
    "/streaks/rankings",
    operation_id="streaks_rankings",
    response_model=list[StreakRankingUser],
    responses=error_responses(401, 422),
)
async def streak_rankings(
    caller: AppCaller,
    conn: Conn,
    runtime: RuntimeDep,
    now: Now,
    limit: Annotated[int, Query(ge=1, le=100, description="How many users (1-100).")] = 10,
    ranking: Annotated[
        Literal["active", "longest"],
        Query(
            alias="type",
            description="`active`: current streaks; `longest`: the longest streak each user "
            "ever reached.",
        ),
    ] = "active",
) -> Response:
    config = await scope_config(runtime, conn, caller)
    if not config.streaks.enabled:
        return json_response([])
    if ranking == "longest":
        ranked = await _longest(conn, caller.scope_id, limit)
    else:
        ranked = await _active(conn, config, limit, now)
    return json_response(
        [StreakRankingUser(user_id=i, name=n, streak_length=length) for length, i, n in ranked]
    )


def _by_user_id(conn: AsyncConnection) -> Any:
    """User ids in code-point order on both databases (as Python compares them)."""
    return user_table.c.id.collate("C") if conn.dialect.name == "postgresql" else user_table.c.id


async def _longest(conn: AsyncConnection, scope_id: int, limit: int) -> list[tuple[int, str, Any]]:
    rows = await conn.execute(
        select(user_streaks.c.longest, user_table.c.id, user_table.c.name)
        .join(user_table, user_table.c.pk == user_streaks.c.user_pk)
        .where(user_streaks.c.scope_id == scope_id, user_streaks.c.longest > 0)
        .order_by(user_streaks.c.longest.desc(), _by_user_id(conn))
        .limit(limit)
    )
    return [(row.longest, row.id, row.name) for row in rows]


async def _active(
    conn: AsyncConnection, config: ScopeConfig, limit: int, now: dt.datetime
) -> list[tuple[int, str, Any]]:
    """The top `limit` current lengths as of `now`.

    The stored length is an upper bound of the current one (catching up only keeps or
    loses a streak; growing it writes at once), so the users are read in stored order and
    brought to `now` a page at a time until no later user can beat the last one kept (nor
    tie with it and come first by user id: later rows of the same stored length have larger
    ids)."""
    found: list[tuple[int, str, Any]] = []
    page, offset = max(2 * limit, 50), 0
    while True:
        rows = list(
            await conn.execute(
                select(
                    user_streaks.c.length,
                    user_streaks.c.state,
                    user_streaks.c.longest,
                    user_preferences.c.streak,
                    *user_table.c,
                )
                .join(user_table, user_table.c.pk == user_streaks.c.user_pk)
                .outerjoin(user_preferences, user_preferences.c.user_pk == user_streaks.c.user_pk)
                .where(user_streaks.c.scope_id == config.scope_id, user_streaks.c.length > 0)
                .order_by(user_streaks.c.length.desc(), _by_user_id(conn))
                .limit(page)
                .offset(offset)
            )
        )
        for row in rows:
            if len(found) >= limit:
                last_length, last_id, _ = found[limit - 1]
                if (row.length, last_id) < (last_length, row.id):
                    return found[:limit]
            length = _current_length(config, row, now)
            if length > 0:
                found.append((length, row.id, row.name))
                found.sort(key=lambda item: (-item[0], item[1]))
        if len(rows) < page:
            return found[:limit]
        offset += page


def _current_length(config: ScopeConfig, row: Any, now: dt.datetime) -> int:
    preferences = dict(row.streak) if row.streak is not None else None
    settings = service.effective_settings(config, preferences)
    if settings is None:
        return 0
    stored = Stored(store.from_document(dict(row.state)), row.longest, preferences)
    user = UserState(
        id=row.id,
        name=row.name,
        email=row.email,
        tz=row.tz,
        device_tokens=None,
        subscribe_to_emails=row.subscribe_to_emails,
        attributes=dict(row.attributes or {}),
        control=row.control,
        sign_up_date=row.sign_up_date,
        created=row.created,
        updated=row.updated,
        pk=row.pk,
    )
    state = service.current(stored, settings, config, user, now).state
    return rules.view(state, settings, now).length
