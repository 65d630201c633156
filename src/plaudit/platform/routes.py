"""Admin API: tenants, admin and application keys, environments, settings, test clock."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, Request
from sqlalchemy import select, update
from starlette.responses import Response

from plaudit.core.bulk import by_position, parse_id_list, require_array, validate_items
from plaudit.core.http import json_response, read_json
from plaudit.core.openapi import array_body
from plaudit.core.schemas import AdminIssue, error_responses
from plaudit.deps import (
    AdminCaller,
    Conn,
    EnvironmentAdminCaller,
    Ids,
    Limit,
    Now,
    ReadOnly,
    RuntimeDep,
    Skip,
)
from plaudit.jobs.worker import advance_test_clock
from plaudit.platform import api_keys, tenants
from plaudit.platform.auth import announce_auth_change
from plaudit.platform.config import bump_config_version, settings_dict
from plaudit.platform.rules import apply_settings_patch, effective_settings
from plaudit.platform.schemas import (
    AdminApiKey,
    AdminEnvironment,
    AdminSettings,
    AdminTenant,
    CreateApiKeyRequestItem,
    CreateApiKeysResponse,
    CreateApplicationKeyRequestItem,
    CreateApplicationKeysResponse,
    CreateTenantRequestItem,
    CreateTenantsResponse,
    DeleteResponse,
    SetTestClockRequest,
    TestClock,
    TestClockAdvanced,
    UpdateAdminSettingsRequest,
    UpdateApiKeyRequestItem,
    UpdateApiKeysResponse,
    UpdateTenantRequestItem,
    UpdateTenantsResponse,
)
from plaudit.platform.tables import environments, scopes

admin_router = APIRouter()
test_clock_router = APIRouter(tags=["Test clock"])

_NOTHING_CREATED = "Nothing was created"


# --- tenants -------------------------------------------------------------------------


@admin_router.get(
    "/tenants",
    tags=["Tenants"],
    operation_id="admin_tenants_list",
    response_model=list[AdminTenant],
    responses=error_responses(401, 422),
)
async def list_tenants(
    caller: EnvironmentAdminCaller, conn: Conn, limit: Limit = 10, skip: Skip = 0
) -> Response:
    rows = await tenants.list_tenants(conn, caller.environment_id, limit=limit, skip=skip)
    return json_response([tenants.to_wire(row) for row in rows])


@admin_router.post(
    "/tenants",
    tags=["Tenants"],
    operation_id="admin_tenants_create",
    status_code=201,
    response_model=CreateTenantsResponse,
    responses={
        200: {"model": CreateTenantsResponse, "description": _NOTHING_CREATED},
        **error_responses(401, 422),
    },
    openapi_extra=array_body(CreateTenantRequestItem),
)
async def create_tenants(
    request: Request, caller: EnvironmentAdminCaller, conn: Conn, now: Now
) -> Response:
    items = require_array(await read_json(request), what="tenants")
    issues: list[AdminIssue] = []
    valid = validate_items(CreateTenantRequestItem, items, issues)
    created = await tenants.create(conn, caller.environment_id, valid, issues, now)
    return json_response(
        CreateTenantsResponse(created=created, issues=by_position(issues)), 201 if created else 200
    )


@admin_router.patch(
    "/tenants",
    tags=["Tenants"],
    operation_id="admin_tenants_update",
    response_model=UpdateTenantsResponse,
    responses=error_responses(401, 422),
    openapi_extra=array_body(UpdateTenantRequestItem),
)
async def update_tenants(
    request: Request, caller: EnvironmentAdminCaller, conn: Conn, now: Now, runtime: RuntimeDep
) -> Response:
    items = require_array(await read_json(request), what="tenants")
    issues: list[AdminIssue] = []
    valid = validate_items(UpdateTenantRequestItem, items, issues, id_field="id")
    updated = await tenants.update_many(conn, caller.environment_id, valid, issues, now)
    if updated:
        await announce_auth_change(conn, runtime.auth)
    return json_response(UpdateTenantsResponse(updated=updated, issues=issues))


@admin_router.delete(
    "/tenants",
    tags=["Tenants"],
    operation_id="admin_tenants_delete",
    response_model=DeleteResponse,
    responses=error_responses(401, 422),
)
async def delete_tenants(
    caller: EnvironmentAdminCaller, conn: Conn, now: Now, runtime: RuntimeDep, ids: Ids = None
) -> Response:
    deleted, issues = await tenants.archive(conn, caller.environment_id, parse_id_list(ids), now)
    if deleted:
        await announce_auth_change(conn, runtime.auth)
    return json_response(DeleteResponse(deleted=deleted, issues=issues))


@admin_router.get(
    "/tenants/{id}",
    tags=["Tenants"],
    operation_id="admin_tenants_get",
    response_model=AdminTenant,
    responses=error_responses(401, 404, 422),
)
async def get_tenant(id: str, caller: EnvironmentAdminCaller, conn: Conn) -> Response:
    return json_response(tenants.to_wire(await tenants.get(conn, caller.environment_id, id)))


# --- application keys ------------------------------------------------------------------


@admin_router.post(
    "/application-api-keys",
    tags=["Application API keys"],
    operation_id="admin_application_api_keys_create",
    status_code=201,
    response_model=CreateApplicationKeysResponse,
    responses={
        200: {"model": CreateApplicationKeysResponse, "description": _NOTHING_CREATED},
        **error_responses(401, 403, 422),
    },
    openapi_extra=array_body(CreateApplicationKeyRequestItem),
)
async def create_application_keys(
    request: Request, caller: AdminCaller, conn: Conn, now: Now
) -> Response:
    items = require_array(await read_json(request), what="users")
    issues: list[AdminIssue] = []
    valid = validate_items(CreateApplicationKeyRequestItem, items, issues)
    created = await api_keys.create_application_keys(
        conn, caller.environment_id, caller.scope_id, valid, issues, now
    )
    body = CreateApplicationKeysResponse(created=created, issues=by_position(issues))
    return json_response(body, 201 if created else 200)


@admin_router.delete(
    "/application-api-keys",
    tags=["Application API keys"],
    operation_id="admin_application_api_keys_delete",
    response_model=DeleteResponse,
    responses=error_responses(401, 403, 422),
)
async def delete_application_keys(
    caller: AdminCaller, conn: Conn, runtime: RuntimeDep, ids: Ids = None
) -> Response:
    deleted, issues = await api_keys.delete_application_keys(
        conn, caller.environment_id, parse_id_list(ids)
    )
    if deleted:
        await announce_auth_change(conn, runtime.auth)
    return json_response(DeleteResponse(deleted=deleted, issues=issues))


# --- admin keys ------------------------------------------------------------------------


@admin_router.get(
    "/api-keys",
    tags=["Admin API keys"],
    operation_id="admin_api_keys_list",
    response_model=list[AdminApiKey],
    responses=error_responses(401, 422),
)
async def list_api_keys(
    caller: EnvironmentAdminCaller,
    conn: Conn,
    runtime: RuntimeDep,
    limit: Limit = 10,
    skip: Skip = 0,
) -> Response:
    rows = await api_keys.list_admin_keys(conn, caller.environment_id, limit=limit, skip=skip)
    listed = [api_keys.to_wire(row) for row in rows]
    for key in listed:  # uses this process has not written yet
        key.last_used = runtime.key_usage.latest(key.id, key.last_used)
    return json_response(listed)


@admin_router.post(
    "/api-keys",
    tags=["Admin API keys"],
    operation_id="admin_api_keys_create",
    status_code=201,
    response_model=CreateApiKeysResponse,
    responses={
        200: {"model": CreateApiKeysResponse, "description": _NOTHING_CREATED},
        **error_responses(401, 422),
    },
    openapi_extra=array_body(CreateApiKeyRequestItem),
)
async def create_api_keys(
    request: Request, caller: EnvironmentAdminCaller, conn: Conn, now: Now
) -> Response:
    items = require_array(await read_json(request), what="keys")
    issues: list[AdminIssue] = []
    valid = validate_items(CreateApiKeyRequestItem, items, issues)
    created = await api_keys.create_admin_keys(conn, caller.environment_id, valid, now)
    return json_response(
        CreateApiKeysResponse(created=created, issues=by_position(issues)), 201 if created else 200
    )


@admin_router.patch(
    "/api-keys",
    tags=["Admin API keys"],
    operation_id="admin_api_keys_update",
    response_model=UpdateApiKeysResponse,
    responses=error_responses(401, 422),
    openapi_extra=array_body(UpdateApiKeyRequestItem),
)
async def update_api_keys(
    request: Request, caller: EnvironmentAdminCaller, conn: Conn, now: Now, runtime: RuntimeDep
) -> Response:
    items = require_array(await read_json(request), what="keys")
    issues: list[AdminIssue] = []
    valid = validate_items(UpdateApiKeyRequestItem, items, issues, id_field="id")
    updated = await api_keys.update_admin_keys(conn, caller.environment_id, valid, issues, now)
    if updated:
        await announce_auth_change(conn, runtime.auth)
    return json_response(UpdateApiKeysResponse(updated=updated, issues=issues))


@admin_router.delete(
    "/api-keys",
    tags=["Admin API keys"],
    operation_id="admin_api_keys_delete",
    response_model=DeleteResponse,
    responses=error_responses(401, 422),
)
async def delete_api_keys(
    caller: EnvironmentAdminCaller, conn: Conn, runtime: RuntimeDep, ids: Ids = None
) -> Response:
    deleted, issues = await api_keys.delete_admin_keys(
        conn, caller.environment_id, parse_id_list(ids), calling_key=caller.key_id
    )
    if deleted:
        await announce_auth_change(conn, runtime.auth)
    return json_response(DeleteResponse(deleted=deleted, issues=issues))


@admin_router.post(
    "/api-keys/{id}/rotate",
    tags=["Admin API keys"],
    operation_id="admin_api_keys_rotate",
    response_model=AdminApiKey,
    responses=error_responses(401, 404, 422),
)
async def rotate_api_key(
    id: str, caller: EnvironmentAdminCaller, conn: Conn, now: Now, runtime: RuntimeDep
) -> Response:
    rotated = await api_keys.rotate_admin_key(conn, caller.environment_id, id, now)
    await announce_auth_change(conn, runtime.auth)
    return json_response(rotated)


# --- environments and settings -----------------------------------------------------------


@admin_router.get(
    "/environments",
    tags=["Environments"],
    operation_id="admin_environments_list",
    response_model=list[AdminEnvironment],
    responses=error_responses(401, 422),
)
async def list_environments(caller: EnvironmentAdminCaller, conn: Conn) -> Response:
    rows = await conn.execute(
        select(environments.c.name, environments.c.key, environments.c.priority)
        .where(environments.c.status == "active")
        .order_by(environments.c.priority, environments.c.created)
    )
    return json_response(
        [AdminEnvironment(name=r.name, key=r.key, priority=r.priority) for r in rows]
    )


async def _stored_settings(conn: Conn, scope_id: int) -> dict[str, object]:
    stored = await conn.scalar(select(scopes.c.settings).where(scopes.c.id == scope_id))
    return settings_dict(stored)


@admin_router.get(
    "/settings",
    tags=["Settings"],
    operation_id="admin_settings_get",
    response_model=AdminSettings,
    responses=error_responses(401, 422),
)
async def get_settings(caller: AdminCaller, conn: Conn) -> Response:
    return json_response(effective_settings(await _stored_settings(conn, caller.scope_id)))


@admin_router.patch(
    "/settings",
    tags=["Settings"],
    operation_id="admin_settings_update",
    response_model=AdminSettings,
    responses=error_responses(401, 422),
)
async def update_settings(
    body: UpdateAdminSettingsRequest, caller: AdminCaller, conn: Conn, runtime: RuntimeDep
) -> Response:
    stored = apply_settings_patch(await _stored_settings(conn, caller.scope_id), body)
    await conn.execute(update(scopes).where(scopes.c.id == caller.scope_id).values(settings=stored))
    await bump_config_version(conn, caller.scope_id, runtime.config)
    return json_response(effective_settings(stored))


# --- test clock ------------------------------------------------------------------------


@test_clock_router.get(
    "/test-clock",
    operation_id="admin_test_clock_get",
    response_model=TestClock,
    responses=error_responses(401, 422),
)
async def get_test_clock(caller: EnvironmentAdminCaller, now: Now) -> Response:
    return json_response(TestClock(now=now))


@test_clock_router.put(
    "/test-clock",
    operation_id="admin_test_clock_set",
    # Moving the clock runs jobs in transactions of their own; the request holds none.
    dependencies=[ReadOnly],
    response_model=TestClockAdvanced,
    responses=error_responses(401, 422),
)
async def set_test_clock(
    body: SetTestClockRequest, caller: EnvironmentAdminCaller, runtime: RuntimeDep
) -> Response:
    target = body.now if body.now.tzinfo else body.now.replace(tzinfo=dt.UTC)
    ran = await advance_test_clock(runtime, target)
    return json_response(TestClockAdvanced(now=target, jobs_run=ran))
