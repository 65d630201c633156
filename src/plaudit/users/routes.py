"""Application API: `/users`, `/users/{id}`, `/users/{id}/preferences`."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import Response

from plaudit.core.http import json_response
from plaudit.core.schemas import error_responses
from plaudit.deps import AppCaller, Conn, Now, RuntimeDep, scope_config
from plaudit.events import pipeline
from plaudit.users import preferences, service
from plaudit.users.schemas import (
    UpdatedUser,
    UpdateUserPreferencesRequest,
    UpsertedUser,
    User,
    UserPreferencesResponse,
)

app_router = APIRouter(tags=["Users"])


@app_router.post(
    "/users",
    operation_id="users_create",
    status_code=201,
    response_model=User,
    responses=error_responses(400, 401, 403, 422),
)
async def create_user(
    body: UpsertedUser, caller: AppCaller, conn: Conn, now: Now, runtime: RuntimeDep
) -> Response:
    caller.require_user(body.id)
    config = await scope_config(runtime, conn, caller)
    result = await service.create_one(conn, config, body, now)
    await pipeline.after_users_created(conn, config, [result.state], now)
    await pipeline.reevaluate_changed_profiles(conn, config, [result], now)
    return json_response(service.to_wire(result.state), 201)


@app_router.get(
    "/users/{id}",
    operation_id="users_get",
    response_model=User,
    responses=error_responses(400, 401, 403, 404, 422),
)
async def get_user(id: str, caller: AppCaller, conn: Conn) -> Response:
    caller.require_user(id)
    return json_response(service.to_wire(await service.get(conn, caller.scope_id, id)))


@app_router.put(
    "/users/{id}",
    operation_id="users_identify",
    response_model=User,
    responses=error_responses(400, 401, 403, 422),
)
async def identify_user(
    id: str, body: UpdatedUser, caller: AppCaller, conn: Conn, now: Now, runtime: RuntimeDep
) -> Response:
    caller.require_user(id)
    config = await scope_config(runtime, conn, caller)
    patch = UpsertedUser.model_validate(
        {**body.model_dump(by_alias=True, exclude_unset=True), "id": id}
    )
    result = (await service.upsert(conn, config, [patch], now))[id]
    if result.created:
        await pipeline.after_users_created(conn, config, [result.state], now)
    await pipeline.reevaluate_changed_profiles(conn, config, [result], now)
    return json_response(service.to_wire(result.state))


@app_router.patch(
    "/users/{id}",
    operation_id="users_update",
    response_model=User,
    responses=error_responses(400, 401, 403, 404, 422),
)
async def update_user(
    id: str, body: UpdatedUser, caller: AppCaller, conn: Conn, now: Now, runtime: RuntimeDep
) -> Response:
    caller.require_user(id)
    config = await scope_config(runtime, conn, caller)
    result = await service.update_one(conn, config, id, body, now)
    await pipeline.reevaluate_changed_profiles(conn, config, [result], now)
    return json_response(service.to_wire(result.state))


@app_router.get(
    "/users/{id}/preferences",
    operation_id="users_get_preferences",
    response_model=UserPreferencesResponse,
    responses=error_responses(401, 403, 404, 422),
)
async def get_preferences(id: str, caller: AppCaller, conn: Conn) -> Response:
    caller.require_user(id)
    user = await service.get(conn, caller.scope_id, id)
    assert user.pk is not None
    return json_response(await preferences.get(conn, user.pk))


@app_router.patch(
    "/users/{id}/preferences",
    operation_id="users_update_preferences",
    response_model=UserPreferencesResponse,
    responses=error_responses(401, 403, 404, 422),
)
async def update_preferences(
    id: str,
    body: UpdateUserPreferencesRequest,
    caller: AppCaller,
    conn: Conn,
    now: Now,
    runtime: RuntimeDep,
) -> Response:
    caller.require_user(id)
    config = await scope_config(runtime, conn, caller)
    user = (await service.lock(conn, caller.scope_id, [id])).get(id)
    if user is None or user.pk is None:
        raise service.user_not_found(id)
    return json_response(await preferences.update(conn, user.pk, body, config, now))
