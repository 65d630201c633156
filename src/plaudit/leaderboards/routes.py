"""Admin API `/leaderboards`; Application API `/leaderboards`, `/leaderboards/{key}`,
`/users/{id}/leaderboards/{key}`."""

from __future__ import annotations

import contextlib
import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from redis.exceptions import RedisError
from sqlalchemy import select
from starlette.responses import Response

from plaudit.core.bulk import by_position, parse_id_list, require_array, validate_items
from plaudit.core.errors import NotFound, Unprocessable
from plaudit.core.http import json_response, read_json
from plaudit.core.openapi import array_body
from plaudit.core.schemas import AdminIssue, error_responses
from plaudit.deps import (
    AdminCaller,
    AppCaller,
    Conn,
    Ids,
    Limit,
    Now,
    RuntimeDep,
    Skip,
    scope_config,
)
from plaudit.leaderboards import admin, ranking, redis_ranks, rules, service, views
from plaudit.leaderboards.ranking import Slot
from plaudit.leaderboards.rules import LeaderboardConfig, Run
from plaudit.leaderboards.schemas import (
    AdminLeaderboard,
    CreateLeaderboardRequestItem,
    CreateLeaderboardsResponse,
    LeaderboardResponse,
    LeaderboardResponseWithRankings,
    UpdateLeaderboardRequestItem,
    UpdateLeaderboardsResponse,
    UserLeaderboardResponseWithHistory,
)
from plaudit.leaderboards.sweep import announce
from plaudit.leaderboards.tables import leaderboard_days
from plaudit.platform.config import ScopeConfig, bump_config_version
from plaudit.platform.schemas import DeleteResponse
from plaudit.runtime import Runtime

DEEP_PAGE = 1000  # pages starting this far down come from the Redis cache when there is one

admin_router = APIRouter(tags=["Leaderboards"])
app_router = APIRouter(tags=["Leaderboards"])


# --- Admin API -----------------------------------------------------------------------------


@admin_router.get(
    "/leaderboards",
    operation_id="admin_leaderboards_list",
    response_model=list[AdminLeaderboard],
    responses=error_responses(401, 422),
)
async def list_leaderboards(
    caller: AdminCaller, conn: Conn, limit: Limit = 10, skip: Skip = 0
) -> Response:
    return json_response(await admin.list_page(conn, caller.scope_id, limit=limit, skip=skip))


@admin_router.post(
    "/leaderboards",
    operation_id="admin_leaderboards_create",
    status_code=201,
    response_model=CreateLeaderboardsResponse,
    responses={
        200: {"model": CreateLeaderboardsResponse, "description": "Nothing was created"},
        **error_responses(401, 422),
    },
    openapi_extra=array_body(CreateLeaderboardRequestItem),
)
async def create_leaderboards(
    request: Request, caller: AdminCaller, conn: Conn, now: Now, runtime: RuntimeDep
) -> Response:
    items = require_array(await read_json(request), what="leaderboards")
    issues: list[AdminIssue] = []
    valid = validate_items(CreateLeaderboardRequestItem, items, issues)
    config = await scope_config(runtime, conn, caller)
    maximum = runtime.settings.max_leaderboard_participants
    created = await admin.create(conn, config, valid, issues, now, maximum)
    if created:
        await bump_config_version(conn, caller.scope_id, runtime.config)
    body = CreateLeaderboardsResponse(created=created, issues=by_position(issues))
    return json_response(body, 201 if created else 200)


@admin_router.patch(
    "/leaderboards",
    operation_id="admin_leaderboards_update",
    response_model=UpdateLeaderboardsResponse,
    responses=error_responses(401, 422),
    openapi_extra=array_body(UpdateLeaderboardRequestItem),
)
async def update_leaderboards(
    request: Request, caller: AdminCaller, conn: Conn, now: Now, runtime: RuntimeDep
) -> Response:
    items = require_array(await read_json(request), what="leaderboards")
    issues: list[AdminIssue] = []
    valid = validate_items(UpdateLeaderboardRequestItem, items, issues, id_field="id")
    config = await scope_config(runtime, conn, caller)
    maximum = runtime.settings.max_leaderboard_participants
    updated, finished = await admin.update_many(conn, config, valid, issues, now, maximum)
    for _old, fresh in finished:  # the finish action finalizes the current run now
        board = admin.config_of(fresh, config)
        run = rules.current_run(board, now.date())
        await announce(conn, config, board, run, "finished", "finished", now)
    if updated:
        await bump_config_version(conn, caller.scope_id, runtime.config)
    return json_response(UpdateLeaderboardsResponse(updated=updated, issues=issues))


@admin_router.delete(
    "/leaderboards",
    operation_id="admin_leaderboards_delete",
    response_model=DeleteResponse,
    responses=error_responses(401, 422),
)
async def delete_leaderboards(
    caller: AdminCaller, conn: Conn, now: Now, runtime: RuntimeDep, ids: Ids = None
) -> Response:
    deleted, issues = await admin.archive(conn, caller.scope_id, parse_id_list(ids), now)
    if deleted:
        await bump_config_version(conn, caller.scope_id, runtime.config)
    return json_response(DeleteResponse(deleted=deleted, issues=issues))


@admin_router.get(
    "/leaderboards/{id}",
    operation_id="admin_leaderboards_get",
    response_model=AdminLeaderboard,
    responses=error_responses(401, 404, 422),
)
async def get_leaderboard_admin(id: str, caller: AdminCaller, conn: Conn) -> Response:
    return json_response(await admin.get_one(conn, caller.scope_id, id))


# --- Application API -----------------------------------------------------------------------


async def _served_by_redis(conn: Any, runtime: Runtime, slot: Slot) -> bool:
    async def size() -> int:
        return await ranking.count_upto(conn, slot, redis_ranks.SMALL_SLOT + 1)

    async def spawn(target: Slot) -> None:
        async with runtime.db.transaction(write=False) as own:
            await redis_ranks.rebuild(own, target)

    return await redis_ranks.ensure(conn, slot, size, spawn)


async def _rank(
    conn: Any, runtime: Runtime, slot: Slot, entry: ranking.Entry, user_id: str, limit: int
) -> int | None:
    """The rank of a committed entry: from Redis when it serves the slot, else SQL."""
    value = -entry.neg_value
    if value > 0:
        with contextlib.suppress(RedisError):  # the database answers instead
            found = await redis_ranks.fresh_position(slot, entry.reached_at, user_id)
            if found is None and await _served_by_redis(conn, runtime, slot):
                found = await redis_ranks.position(slot, entry.reached_at, user_id)
            if found is not None:
                return found if found <= limit else None
    return await ranking.rank_of(conn, slot, value, entry.reached_at, user_id, limit)


async def _page(
    conn: Any, runtime: Runtime, scope_id: int, slot: Slot, start: int, count: int
) -> list[ranking.Ranked]:
    # The SQL index reads a page from its start: cheap near the top, O(start) further down.
    if count > 0 and start >= DEEP_PAGE:
        with contextlib.suppress(RedisError):  # the database answers instead
            found = await redis_ranks.fresh_entries(slot, start, count)
            if found is None and await _served_by_redis(conn, runtime, slot):
                found = await redis_ranks.entries(slot, start, count)
            if found is not None:
                named = await ranking.names(conn, scope_id, [e.user_id for e in found])
                return [
                    ranking.Ranked(0, e.user_id, named.get(e.user_id), e.position, e.value)
                    for e in found
                ]
    return await ranking.page(conn, slot, start, count)


def _board(
    config: ScopeConfig, key: str, message: str = "Leaderboard not found"
) -> LeaderboardConfig:
    board = config.leaderboards_by_key.get(key)
    if board is None:
        raise NotFound(message)
    return board


def _run(board: LeaderboardConfig, raw: str | None, today: dt.date) -> Run:
    """The run a `run=YYYY-MM-DD` query selects (any date inside it), else the current one."""
    current = rules.current_run(board, today)
    if raw is None:
        return current
    try:
        day = dt.date.fromisoformat(raw)
    except ValueError:
        raise Unprocessable(f"run must be a date in YYYY-MM-DD format, got {raw!r}") from None
    found = rules.run_for_date(board, day)
    if found is None or found.start > current.start:
        raise Unprocessable("No run exists for this date")
    return found


def _flag(raw: str | None, name: str) -> bool:
    if raw is None or raw == "false":
        return False
    if raw == "true":
        return True
    raise Unprocessable(f"{name} must be true or false")


@app_router.get(
    "/leaderboards",
    operation_id="leaderboards_all",
    response_model=list[LeaderboardResponse],
    responses=error_responses(401, 422),
)
async def all_leaderboards(
    caller: AppCaller,
    conn: Conn,
    runtime: RuntimeDep,
    include_finished: Annotated[
        str | None,
        Query(alias="includeFinished", description="'true' lists finished leaderboards too."),
    ] = None,
) -> Response:
    config = await scope_config(runtime, conn, caller)
    finished = _flag(include_finished, "includeFinished")
    return json_response(
        [
            views.config_fields(config, board)
            for board in config.leaderboards
            if board.status != "finished" or finished
        ]
    )


@app_router.get(
    "/leaderboards/{key}",
    operation_id="leaderboards_get",
    response_model=LeaderboardResponseWithRankings,
    responses=error_responses(401, 404, 422),
)
async def get_leaderboard(
    key: str,
    caller: AppCaller,
    conn: Conn,
    runtime: RuntimeDep,
    now: Now,
    offset: Annotated[
        int, Query(ge=-1_000_000_000, le=1_000_000_000, description="Rankings to skip.")
    ] = 0,
    limit: Annotated[int, Query(ge=0, le=1_000_000_000, description="Rankings to return.")] = 10,
    run: Annotated[str | None, Query(description="A date inside the run (YYYY-MM-DD).")] = None,
    user_id: Annotated[
        str | None, Query(alias="userId", description="Center the page on this user.")
    ] = None,
    user_attributes: Annotated[
        str | None,
        Query(alias="userAttributes", description="key:value,... - the breakdown group."),
    ] = None,
) -> Response:
    config = await scope_config(runtime, conn, caller)
    board = _board(config, key)
    chosen = _run(board, run, now.date())
    try:
        group = rules.parse_group_query(board, user_attributes)
    except ValueError as exc:
        raise Unprocessable(str(exc)) from None
    if offset < 0 and user_id is None:
        raise Unprocessable("offset must be at least 0")
    slot = Slot(board.id, chosen.start, group)
    maximum = board.max_participants
    start: int | None = offset
    if user_id is not None:
        start = await _around(conn, runtime, caller.scope_id, board, slot, user_id, offset)
    rows: list[ranking.Ranked] = []
    if start is not None:
        start = max(start, 0)
        count = max(min(limit, maximum - start), 0)
        rows = await _page(conn, runtime, caller.scope_id, slot, start, count)
    body = {
        **views.config_fields(config, board),
        "rankings": [
            {
                "userId": r.user_id,
                "userName": r.user_name,
                "rank": r.rank,
                "value": rules.emitted(r.value),
            }
            for r in rows
        ],
    }
    return json_response(body)


async def _around(
    conn: Any,
    runtime: Runtime,
    scope_id: int,
    board: LeaderboardConfig,
    slot: Slot,
    user_id: str,
    offset: int,
) -> int | None:
    """Index of the page start relative to the user's position; None if not ranked here."""
    found = await ranking.user_entry(conn, scope_id, user_id, slot.board_id, slot.run_start)
    if found is None or found.entry is None or found.entry.group_key != slot.group:
        return None
    entry = found.entry
    rank = await _rank(conn, runtime, slot, entry, user_id, board.max_participants)
    return None if rank is None else rank - 1 + offset


@app_router.get(
    "/users/{id}/leaderboards/{key}",
    operation_id="users_leaderboard",
    response_model=UserLeaderboardResponseWithHistory,
    responses=error_responses(401, 403, 404, 422),
)
async def user_leaderboard(
    id: str,
    key: str,
    caller: AppCaller,
    conn: Conn,
    runtime: RuntimeDep,
    now: Now,
    run: Annotated[str | None, Query(description="A date inside the run (YYYY-MM-DD).")] = None,
    num_events: Annotated[
        int, Query(alias="numEvents", ge=0, le=100, description="Days of history (0-100).")
    ] = 10,
) -> Response:
    caller.require_user(id)
    config = await scope_config(runtime, conn, caller)
    board = _board(config, key, "User or leaderboard not found")
    chosen = _run(board, run, now.date())
    found = await ranking.user_entry(conn, caller.scope_id, id, board.id, chosen.start)
    if found is None:
        raise NotFound("User or leaderboard not found")
    entry = found.entry
    rank: int | None = None
    if entry is not None:
        slot = Slot(board.id, chosen.start, entry.group_key)
        rank = await _rank(conn, runtime, slot, entry, id, board.max_participants)
    history = await _history(conn, board, chosen, found.user_pk, num_events)
    body = {
        **views.config_fields(config, board),
        "rank": rank,
        "value": None if rank is None or entry is None else rules.emitted(-entry.neg_value),
        "history": history,
    }
    return json_response(body)


async def _history(
    conn: Any, board: LeaderboardConfig, run: Run, user_pk: int | None, count: int
) -> list[dict[str, Any]]:
    """Daily snapshots on which the user's rank or value changed, the latest `count`, oldest
    first; `previous*` is the state of the entry before (null before the first)."""
    if count == 0:
        return []
    rows = list(
        await conn.execute(
            select(leaderboard_days.c.day, leaderboard_days.c.rank, leaderboard_days.c.value)
            .where(
                leaderboard_days.c.leaderboard_id == board.id,
                leaderboard_days.c.run_start == run.start,
                leaderboard_days.c.user_pk == user_pk,
            )
            .order_by(leaderboard_days.c.day.desc())
            .limit(count + 1)
        )
    )
    rows.reverse()
    shown: list[dict[str, Any]] = []
    for index, row in enumerate(rows):
        if index == 0 and len(rows) > count:
            continue
        prior = rows[index - 1] if index > 0 else None
        prior_rank = None if prior is None else prior.rank
        shown.append(
            {
                "date": row.day.isoformat(),
                "timestamp": f"{row.day.isoformat()}T00:00:00.000Z",
                "previousRank": prior_rank,
                "rank": row.rank,
                "previousValue": None
                if prior is None or prior_rank is None
                else rules.emitted(prior.value),
                "value": None if row.rank is None else rules.emitted(row.value),
            }
        )
    return shown


__all__ = ["admin_router", "app_router", "service"]
