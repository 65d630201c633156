"""Admin API `/achievements`; Application API `/achievements`, `/achievements/{key}/complete`,
`/users/{id}/achievements`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from plaudit.achievements import admin, completion, rules, views
from plaudit.achievements.jobs import queue_backdating
from plaudit.achievements.schemas import (
    AchievementCompletionResponse,
    AchievementWithStatsResponse,
    AdminAchievement,
    CompleteAchievementRequest,
    CreateAchievementRequestItem,
    CreateAchievementsResponse,
    UpdateAchievementRequestItem,
    UpdateAchievementsResponse,
    UserAchievementWithStatsResponse,
)
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
from plaudit.events import pipeline
from plaudit.platform.config import bump_config_version
from plaudit.platform.schemas import DeleteResponse
from plaudit.points import service as points_service
from plaudit.users import service as users

admin_router = APIRouter(tags=["Achievements"])
app_router = APIRouter(tags=["Achievements"])

UserAttributesQuery = Annotated[
    str | None,
    Query(
        alias="userAttributes",
        description="key:value,key:value - only achievements a user with these attribute "
        "values could unlock.",
    ),
]


@admin_router.get(
    "/achievements",
    operation_id="admin_achievements_list",
    response_model=list[AdminAchievement],
    responses=error_responses(401, 422),
)
async def list_achievements(
    caller: AdminCaller, conn: Conn, limit: Limit = 10, skip: Skip = 0
) -> Response:
    return json_response(await admin.list_page(conn, caller.scope_id, limit=limit, skip=skip))


@admin_router.post(
    "/achievements",
    operation_id="admin_achievements_create",
    status_code=201,
    response_model=CreateAchievementsResponse,
    responses={
        200: {"model": CreateAchievementsResponse, "description": "Nothing was created"},
        **error_responses(401, 422),
    },
    openapi_extra=array_body(CreateAchievementRequestItem),
)
async def create_achievements(
    request: Request, caller: AdminCaller, conn: Conn, now: Now, runtime: RuntimeDep
) -> Response:
    items = require_array(await read_json(request), what="achievements")
    issues: list[AdminIssue] = []
    valid = validate_items(CreateAchievementRequestItem, items, issues)
    config = await scope_config(runtime, conn, caller)
    created, live = await admin.create(conn, config, valid, issues, now)
    if created:
        await bump_config_version(conn, caller.scope_id, runtime.config)
        await queue_backdating(conn, caller.scope_id, live, now)
    body = CreateAchievementsResponse(created=created, issues=by_position(issues))
    return json_response(body, 201 if created else 200)


@admin_router.patch(
    "/achievements",
    operation_id="admin_achievements_update",
    response_model=UpdateAchievementsResponse,
    responses=error_responses(401, 422),
    openapi_extra=array_body(UpdateAchievementRequestItem),
)
async def update_achievements(
    request: Request, caller: AdminCaller, conn: Conn, now: Now, runtime: RuntimeDep
) -> Response:
    items = require_array(await read_json(request), what="achievements")
    issues: list[AdminIssue] = []
    valid = validate_items(UpdateAchievementRequestItem, items, issues, id_field="id")
    config = await scope_config(runtime, conn, caller)
    updated, live = await admin.update_many(conn, config, valid, issues, now)
    if updated:
        await bump_config_version(conn, caller.scope_id, runtime.config)
        await queue_backdating(conn, caller.scope_id, live, now)
    return json_response(UpdateAchievementsResponse(updated=updated, issues=issues))


@admin_router.delete(
    "/achievements",
    operation_id="admin_achievements_delete",
    response_model=DeleteResponse,
    responses=error_responses(401, 422),
)
async def delete_achievements(
    caller: AdminCaller, conn: Conn, now: Now, runtime: RuntimeDep, ids: Ids = None
) -> Response:
    deleted, issues = await admin.archive(conn, caller.scope_id, parse_id_list(ids), now)
    if deleted:
        await bump_config_version(conn, caller.scope_id, runtime.config)
    return json_response(DeleteResponse(deleted=deleted, issues=issues))


@admin_router.get(
    "/achievements/{id}",
    operation_id="admin_achievements_get",
    response_model=AdminAchievement,
    responses=error_responses(401, 404, 422),
)
async def get_achievement(id: str, caller: AdminCaller, conn: Conn) -> Response:
    return json_response(await admin.get_one(conn, caller.scope_id, id))


@app_router.get(
    "/achievements",
    operation_id="achievements_all",
    response_model=list[AchievementWithStatsResponse],
    responses=error_responses(401, 422),
)
async def all_achievements(
    caller: AppCaller, conn: Conn, runtime: RuntimeDep, user_attributes: UserAttributesQuery = None
) -> Response:
    config = await scope_config(runtime, conn, caller)
    try:
        wanted = rules.parse_user_attributes_query(user_attributes)
    except ValueError as exc:
        raise Unprocessable(str(exc)) from None
    if wanted is not None:
        unknown = sorted(set(wanted) - config.user_attribute_keys)
        if unknown:
            raise Unprocessable("Invalid attribute keys: " + ", ".join(unknown))
    listed = [
        a
        for a in views.catalogue(config)
        if a.completable and (wanted is None or rules.user_matches(a, wanted))
    ]
    return json_response(await views.with_stats(conn, config, listed))


@app_router.post(
    "/achievements/{key}/complete",
    operation_id="achievements_complete",
    status_code=201,
    response_model=AchievementCompletionResponse,
    responses=error_responses(401, 403, 404, 422),
)
async def complete_achievement(
    key: str,
    body: CompleteAchievementRequest,
    caller: AppCaller,
    conn: Conn,
    now: Now,
    runtime: RuntimeDep,
) -> Response:
    caller.require_user(body.user.id)
    config = await scope_config(runtime, conn, caller)
    achievement = next(
        (a for a in config.achievements if a.trigger == "api" and a.key == key), None
    )
    if achievement is None:
        raise NotFound("Achievement Not Found")
    upserted = (await users.upsert(conn, config, [body.user], now))[body.user.id]
    user = upserted.state
    if upserted.created:
        await pipeline.after_users_created(conn, config, [user], now)
    assert user.pk is not None
    done = await views.user_completions(conn, user.pk)
    if achievement.id in done:  # completing again answers the original completion
        completion_id = await completion.completion_id(conn, achievement.id, user.pk)
        response = AchievementCompletionResponse(
            completion_id=str(completion_id),
            achievement=views.user_achievement(config, achievement, done[achievement.id]),
            points={},
        )
        return json_response(response, 201)
    if not achievement.completable:
        raise Unprocessable(f"Achievement '{key}' is locked and can no longer be completed")
    if not rules.user_matches(achievement, user.attributes):
        raise Unprocessable(
            f"User '{user.id}' does not have the attributes achievement '{key}' requires"
        )
    with points_service.capturing(conn) as points:
        completed = await completion.complete(
            conn, config, user, [achievement], now, backdated=False
        )
    first = next(c for c in completed if c.achievement.id == achievement.id)
    response = AchievementCompletionResponse(
        completion_id=str(first.completion_id),
        achievement=views.user_achievement(config, achievement, first.achieved_at),
        points=points,
    )
    return json_response(response, 201)


@app_router.get(
    "/users/{id}/achievements",
    operation_id="users_achievements",
    response_model=list[UserAchievementWithStatsResponse],
    responses=error_responses(401, 403, 404, 422),
)
async def user_achievements(
    id: str,
    caller: AppCaller,
    conn: Conn,
    runtime: RuntimeDep,
    include_incomplete: Annotated[
        str | None,
        Query(
            alias="includeIncomplete", description="'true' adds the achievements not yet completed."
        ),
    ] = None,
) -> Response:
    caller.require_user(id)
    config = await scope_config(runtime, conn, caller)
    user = await users.get(conn, caller.scope_id, id)
    assert user.pk is not None
    listed = await views.for_user(
        conn, config, user.pk, user.attributes, include_incomplete=include_incomplete == "true"
    )
    return json_response(listed)
