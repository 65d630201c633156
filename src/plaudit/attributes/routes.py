"""Admin API: `/attributes`."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from plaudit.attributes import service
from plaudit.attributes.schemas import (
    AdminAttribute,
    CreateAttributeRequestItem,
    CreateAttributesResponse,
    UpdateAttributeRequestItem,
    UpdateAttributesResponse,
)
from plaudit.attributes.tables import attributes
from plaudit.core import admin_crud
from plaudit.core.bulk import by_position, parse_id_list, require_array, validate_items
from plaudit.core.http import json_response, read_json
from plaudit.core.openapi import array_body
from plaudit.core.schemas import AdminIssue, error_responses
from plaudit.deps import AdminCaller, Conn, Ids, Limit, Now, RuntimeDep, Skip
from plaudit.platform.config import bump_config_version
from plaudit.platform.schemas import DeleteResponse

admin_router = APIRouter(tags=["Attributes"])


@admin_router.get(
    "/attributes",
    operation_id="admin_attributes_list",
    response_model=list[AdminAttribute],
    responses=error_responses(401, 422),
)
async def list_attributes(
    caller: AdminCaller, conn: Conn, limit: Limit = 10, skip: Skip = 0
) -> Response:
    rows = await admin_crud.list_active(conn, attributes, caller.scope_id, limit=limit, skip=skip)
    return json_response([service.to_wire(row) for row in rows])


@admin_router.post(
    "/attributes",
    operation_id="admin_attributes_create",
    status_code=201,
    response_model=CreateAttributesResponse,
    responses={
        200: {"model": CreateAttributesResponse, "description": "Nothing was created"},
        **error_responses(401, 422),
    },
    openapi_extra=array_body(CreateAttributeRequestItem),
)
async def create_attributes(
    request: Request, caller: AdminCaller, conn: Conn, now: Now, runtime: RuntimeDep
) -> Response:
    items = require_array(await read_json(request), what="attributes")
    issues: list[AdminIssue] = []
    valid = validate_items(CreateAttributeRequestItem, items, issues)
    created = await service.create(conn, caller.scope_id, valid, issues, now)
    if created:
        await bump_config_version(conn, caller.scope_id, runtime.config)
    body = CreateAttributesResponse(created=created, issues=by_position(issues))
    return json_response(body, 201 if created else 200)


@admin_router.patch(
    "/attributes",
    operation_id="admin_attributes_update",
    response_model=UpdateAttributesResponse,
    responses=error_responses(401, 422),
    openapi_extra=array_body(UpdateAttributeRequestItem),
)
async def update_attributes(
    request: Request, caller: AdminCaller, conn: Conn, now: Now, runtime: RuntimeDep
) -> Response:
    items = require_array(await read_json(request), what="attributes")
    issues: list[AdminIssue] = []
    valid = validate_items(UpdateAttributeRequestItem, items, issues, id_field="id")
    updated = await service.update_names(conn, caller.scope_id, valid, issues, now)
    if updated:
        await bump_config_version(conn, caller.scope_id, runtime.config)
    return json_response(UpdateAttributesResponse(updated=updated, issues=issues))


@admin_router.delete(
    "/attributes",
    operation_id="admin_attributes_delete",
    response_model=DeleteResponse,
    responses=error_responses(401, 422),
)
async def delete_attributes(
    caller: AdminCaller, conn: Conn, now: Now, runtime: RuntimeDep, ids: Ids = None
) -> Response:
    deleted, issues = await service.archive(conn, caller.scope_id, parse_id_list(ids), now)
    if deleted:
        await bump_config_version(conn, caller.scope_id, runtime.config)
    return json_response(DeleteResponse(deleted=deleted, issues=issues))


@admin_router.get(
    "/attributes/{id}",
    operation_id="admin_attributes_get",
    response_model=AdminAttribute,
    responses=error_responses(401, 404, 422),
)
async def get_attribute(id: str, caller: AdminCaller, conn: Conn) -> Response:
    row = await admin_crud.get_active(conn, attributes, caller.scope_id, id, service.THING)
    return json_response(service.to_wire(row))
