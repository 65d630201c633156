"""Admin API `/points…` (systems, triggers, levels, boosts); Application API `/points/{key}…`
and `/users/{id}/points/{key}…`."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel
from starlette.responses import Response

from plaudit.achievements.rules import parse_user_attributes_query
from plaudit.core.bulk import by_position, parse_id_list, require_array, validate_items
from plaudit.core.errors import Unprocessable
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
from plaudit.platform.config import bump_config_version
from plaudit.platform.schemas import DeleteResponse
from plaudit.points import admin, admin_boosts, admin_common, admin_levels, admin_triggers, reads
from plaudit.points.schemas import (
    CreateBoost,
    CreateLevel,
    CreateSystem,
    CreateTrigger,
    UpdateBoost,
    UpdateLevel,
    UpdateSystem,
    UpdateTrigger,
)
from plaudit.points.tables import points_levels, points_systems, points_triggers
from plaudit.users import service as users

admin_router = APIRouter(tags=["Points"])
app_router = APIRouter(tags=["Points"])

CREATED: dict[int | str, dict[str, Any]] = {200: {"description": "Nothing was created"}}


def _wire(issues: list[AdminIssue]) -> list[dict[str, Any]]:
    return [issue.model_dump(mode="json", by_alias=True) for issue in issues]


def _created(body: dict[str, Any]) -> Response:
    return json_response(body, 201 if body["created"] else 200)


# ---- admin: systems -----------------------------------------------------------------


@admin_router.get(
    "/points", operation_id="admin_points_systems_list", responses=error_responses(401, 422)
)
async def list_systems(
    caller: AdminCaller, conn: Conn, limit: Limit = 10, skip: Skip = 0
) -> Response:
    from plaudit.core import admin_crud

    rows = await admin_crud.list_active(
        conn, points_systems, caller.scope_id, limit=limit, skip=skip
    )
    return json_response([admin_common.system_wire(r) for r in rows])


@admin_router.post(
    "/points",
    operation_id="admin_points_systems_create",
    status_code=201,
    responses={**CREATED, **error_responses(401, 422)},
    openapi_extra=array_body(CreateSystem),
)
async def create_systems(
    request: Request, caller: AdminCaller, conn: Conn, now: Now, runtime: RuntimeDep
) -> Response:
    items = require_array(await read_json(request), what="points systems")
    issues: list[AdminIssue] = []
    valid = validate_items(CreateSystem, items, issues)
    config = await scope_config(runtime, conn, caller)
    created = await admin.create_systems(conn, config, valid, issues, now)
    if created:
        await bump_config_version(conn, caller.scope_id, runtime.config)
    return _created({"created": created, "issues": _wire(by_position(issues))})


@admin_router.patch(
    "/points",
    operation_id="admin_points_systems_update",
    responses=error_responses(401, 422),
    openapi_extra=array_body(UpdateSystem),
)
async def update_systems(
    request: Request, caller: AdminCaller, conn: Conn, now: Now, runtime: RuntimeDep
) -> Response:
    items = require_array(await read_json(request), what="points systems")
    issues: list[AdminIssue] = []
    valid = validate_items(UpdateSystem, items, issues, id_field="id")
    updated = await admin.update_systems(conn, caller.scope_id, valid, issues, now)
    if updated:
        await bump_config_version(conn, caller.scope_id, runtime.config)
    return json_response({"updated": updated, "issues": _wire(issues)})


@admin_router.delete(
    "/points",
    operation_id="admin_points_systems_delete",
    response_model=DeleteResponse,
    responses=error_responses(401, 422),
)
async def delete_systems(
    caller: AdminCaller, conn: Conn, now: Now, runtime: RuntimeDep, ids: Ids = None
) -> Response:
    deleted, issues = await admin.archive_systems(conn, caller.scope_id, parse_id_list(ids), now)
    if deleted:
        await bump_config_version(conn, caller.scope_id, runtime.config)
    return json_response(DeleteResponse(deleted=deleted, issues=issues))


@admin_router.get(
    "/points/{id}",
    operation_id="admin_points_systems_get",
    responses=error_responses(401, 404, 422),
)
async def get_system(id: str, caller: AdminCaller, conn: Conn) -> Response:
    return json_response(
        admin_common.system_wire(await admin_common.live_system(conn, caller.scope_id, id))
    )


# ---- admin: triggers, levels, boosts ------------------------------------------------


def _children(
    path: str,
    name: str,
    create_model: type[BaseModel],
    update_model: type[BaseModel],
) -> None:
    """The five endpoints of one kind of a system's children."""

    @admin_router.get(
        f"/points/{{systemId}}/{path}",
        operation_id=f"admin_points_{name}_list",
        responses=error_responses(401, 404, 422),
    )
    async def list_items(
        systemId: str,
        caller: AdminCaller,
        conn: Conn,
        now: Now,
        runtime: RuntimeDep,
        limit: Limit = 10,
        skip: Skip = 0,
    ) -> Response:
        system = await admin_common.live_system(conn, caller.scope_id, systemId)
        if path == "boosts":
            config = await scope_config(runtime, conn, caller)
            return json_response(
                await admin_boosts.list_boosts(conn, config, system, now, limit=limit, skip=skip)
            )
        table = points_triggers if path == "triggers" else points_levels
        wire = admin_common.trigger_wire if path == "triggers" else admin_common.level_wire
        rows = await admin.list_children(conn, table, system, limit=limit, skip=skip)
        return json_response([wire(r) for r in rows])

    @admin_router.post(
        f"/points/{{systemId}}/{path}",
        operation_id=f"admin_points_{name}_create",
        status_code=201,
        responses={**CREATED, **error_responses(401, 404, 422)},
        openapi_extra=array_body(create_model),
    )
    async def create_items(
        systemId: str,
        request: Request,
        caller: AdminCaller,
        conn: Conn,
        now: Now,
        runtime: RuntimeDep,
    ) -> Response:
        system = await admin_common.live_system(conn, caller.scope_id, systemId)
        items = require_array(await read_json(request), what=f"points {path}")
        issues: list[AdminIssue] = []
        valid = validate_items(create_model, items, issues)
        config = await scope_config(runtime, conn, caller)
        creator = {
            "triggers": admin_triggers.create_triggers,
            "levels": admin_levels.create_levels,
            "boosts": admin_boosts.create_boosts,
        }[path]
        created = await creator(conn, config, system, valid, issues, now)  # type: ignore[operator]
        if created:
            await bump_config_version(conn, caller.scope_id, runtime.config)
        return _created({"created": created, "issues": _wire(by_position(issues))})

    @admin_router.patch(
        f"/points/{{systemId}}/{path}",
        operation_id=f"admin_points_{name}_update",
        responses=error_responses(401, 404, 422),
        openapi_extra=array_body(update_model),
    )
    async def update_items(
        systemId: str,
        request: Request,
        caller: AdminCaller,
        conn: Conn,
        now: Now,
        runtime: RuntimeDep,
    ) -> Response:
        system = await admin_common.live_system(conn, caller.scope_id, systemId)
        items = require_array(await read_json(request), what=f"points {path}")
        issues: list[AdminIssue] = []
        valid = validate_items(update_model, items, issues, id_field="id")
        config = await scope_config(runtime, conn, caller)
        if path == "triggers":
            updated = await admin_triggers.update_triggers(conn, config, system, valid, issues, now)  # type: ignore[arg-type]
        elif path == "levels":
            updated = await admin_levels.update_levels(conn, system, valid, issues, now)  # type: ignore[arg-type]
        else:
            updated = await admin_boosts.update_boosts(conn, config, system, valid, issues, now)  # type: ignore[arg-type]
        if updated:
            await bump_config_version(conn, caller.scope_id, runtime.config)
        return json_response({"updated": updated, "issues": _wire(issues)})

    @admin_router.delete(
        f"/points/{{systemId}}/{path}",
        operation_id=f"admin_points_{name}_delete",
        response_model=DeleteResponse,
        responses=error_responses(401, 404, 422),
    )
    async def delete_items(
        systemId: str,
        caller: AdminCaller,
        conn: Conn,
        now: Now,
        runtime: RuntimeDep,
        ids: Ids = None,
    ) -> Response:
        system = await admin_common.live_system(conn, caller.scope_id, systemId)
        archive = {
            "triggers": admin_triggers.archive_triggers,
            "levels": admin_levels.archive_levels,
            "boosts": admin_boosts.archive_boosts,
        }[path]
        deleted, issues = await archive(conn, system, parse_id_list(ids), now)
        if deleted:
            await bump_config_version(conn, caller.scope_id, runtime.config)
        return json_response(DeleteResponse(deleted=deleted, issues=issues))

    @admin_router.get(
        f"/points/{{systemId}}/{path}/{{id}}",
        operation_id=f"admin_points_{name}_get",
        responses=error_responses(401, 404, 422),
    )
    async def get_item(
        systemId: str, id: str, caller: AdminCaller, conn: Conn, now: Now, runtime: RuntimeDep
    ) -> Response:
        system = await admin_common.live_system(conn, caller.scope_id, systemId)
        if path == "boosts":
            config = await scope_config(runtime, conn, caller)
            return json_response(await admin_boosts.get_boost(conn, config, system, id, now))
        if path == "triggers":
            return json_response(
                admin_common.trigger_wire(
                    await admin.get_child(conn, points_triggers, system, id, admin_common.TRIGGER)
                )
            )
        return json_response(
            admin_common.level_wire(
                await admin.get_child(conn, points_levels, system, id, admin_common.LEVEL)
            )
        )


_children("triggers", "triggers", CreateTrigger, UpdateTrigger)
_children("levels", "levels", CreateLevel, UpdateLevel)
_children("boosts", "boosts", CreateBoost, UpdateBoost)


# ---- application --------------------------------------------------------------------


@app_router.get("/points/{key}", operation_id="points_system", responses=error_responses(401, 404))
async def get_points_system(
    key: str, caller: AppCaller, conn: Conn, runtime: RuntimeDep
) -> Response:
    config = await scope_config(runtime, conn, caller)
    return json_response(reads.system_view(config, reads.system_by_key(config, key)))


@app_router.get(
    "/points/{key}/boosts", operation_id="points_boosts", responses=error_responses(401, 404)
)
async def get_points_boosts(
    key: str,
    caller: AppCaller,
    conn: Conn,
    now: Now,
    runtime: RuntimeDep,
    include_finished: Annotated[bool, Query(alias="includeFinished")] = False,
) -> Response:
    config = await scope_config(runtime, conn, caller)
    system = reads.system_by_key(config, key)
    return json_response(reads.global_boosts(system, now, include_finished=include_finished))


@app_router.get(
    "/points/{key}/levels", operation_id="points_levels", responses=error_responses(401, 404)
)
async def get_points_levels(
    key: str, caller: AppCaller, conn: Conn, runtime: RuntimeDep
) -> Response:
    config = await scope_config(runtime, conn, caller)
    from plaudit.points import views

    return json_response([views.level(lv) for lv in reads.system_by_key(config, key).levels])


@app_router.get(
    "/points/{key}/level-summary",
    operation_id="points_level_summary",
    responses=error_responses(401, 404, 422),
)
async def get_level_summary(
    key: str, caller: AppCaller, conn: Conn, runtime: RuntimeDep
) -> Response:
    config = await scope_config(runtime, conn, caller)
    return json_response(
        await reads.level_summary(conn, caller.scope_id, reads.system_by_key(config, key))
    )


@app_router.get(
    "/points/{key}/summary", operation_id="points_summary", responses=error_responses(401, 404, 422)
)
async def get_summary(
    key: str,
    caller: AppCaller,
    conn: Conn,
    runtime: RuntimeDep,
    user_attributes: Annotated[str | None, Query(alias="userAttributes")] = None,
) -> Response:
    config = await scope_config(runtime, conn, caller)
    system = reads.system_by_key(config, key)
    try:
        wanted = parse_user_attributes_query(user_attributes)
    except ValueError as exc:
        raise Unprocessable(str(exc)) from None
    unknown = sorted(set(wanted or {}) - config.user_attribute_keys)
    if unknown:
        raise Unprocessable("Invalid attribute keys: " + ", ".join(unknown))
    return json_response(await reads.summary(conn, config, system, wanted))


@app_router.get(
    "/users/{id}/points/{key}",
    operation_id="users_points",
    responses=error_responses(401, 403, 404, 422),
)
async def get_user_points(
    id: str,
    key: str,
    caller: AppCaller,
    conn: Conn,
    now: Now,
    runtime: RuntimeDep,
    awards: Annotated[int, Query(ge=1, le=100, description="Most recent awards (1-100).")] = 10,
) -> Response:
    caller.require_user(id)
    config = await scope_config(runtime, conn, caller)
    user = await users.get(conn, caller.scope_id, id)
    system = reads.system_by_key(config, key)
    return json_response(await reads.user_points(conn, config, system, user, awards, now))


@app_router.get(
    "/users/{id}/points/{key}/boosts",
    operation_id="users_points_boosts",
    responses=error_responses(401, 403, 404, 422),
)
async def get_user_boosts(
    id: str, key: str, caller: AppCaller, conn: Conn, now: Now, runtime: RuntimeDep
) -> Response:
    caller.require_user(id)
    config = await scope_config(runtime, conn, caller)
    user = await users.get(conn, caller.scope_id, id)
    return json_response(reads.user_boosts(config, reads.system_by_key(config, key), user, now))


@app_router.get(
    "/users/{id}/points/{key}/event-summary",
    operation_id="users_points_event_summary",
    responses=error_responses(401, 403, 404, 422),
)
async def get_user_points_event_summary(
    id: str,
    key: str,
    aggregation: Annotated[
        Literal["daily", "weekly", "monthly"], Query(description="Bucket size.")
    ],
    start_date: Annotated[dt.date, Query(alias="startDate")],
    end_date: Annotated[dt.date, Query(alias="endDate")],
    caller: AppCaller,
    conn: Conn,
    runtime: RuntimeDep,
) -> Response:
    caller.require_user(id)
    config = await scope_config(runtime, conn, caller)
    user = await users.get(conn, caller.scope_id, id)
    system = reads.system_by_key(config, key)
    return json_response(
        await reads.event_summary(conn, config, system, user, aggregation, start_date, end_date)
    )
