"""Admin API `/webhooks`: subscriptions, secrets, test events, delivery logs, redelivery.

Sending a test event or redelivering calls the receiver while the request waits, but
outside any transaction: the delivery row is committed first, the attempt recorded after.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from starlette.responses import Response

from plaudit.core.bulk import by_position, parse_id_list, require_array, validate_items
from plaudit.core.http import json_response, read_json
from plaudit.core.openapi import array_body
from plaudit.core.schemas import AdminIssue, error_responses
from plaudit.deps import AdminCaller, Conn, Ids, Limit, Now, ReadOnly, RuntimeDep, Skip
from plaudit.platform.config import bump_config_version
from plaudit.platform.schemas import DeleteResponse
from plaudit.runtime import Runtime
from plaudit.webhooks import admin
from plaudit.webhooks.schemas import (
    CreateWebhookRequestItem,
    CreateWebhooksResponse,
    Delivery,
    DeliveryStatus,
    DeliveryWithAttempts,
    RotatedSecret,
    UpdateWebhookRequestItem,
    UpdateWebhooksResponse,
    Webhook,
)
from plaudit.webhooks.worker import send_now

admin_router = APIRouter(tags=["Webhooks"])

StatusQuery = Annotated[DeliveryStatus | None, Query(description="Only deliveries in this state.")]


@admin_router.get(
    "/webhooks",
    operation_id="admin_webhooks_list",
    response_model=list[Webhook],
    responses=error_responses(401, 422),
)
async def list_webhooks(
    caller: AdminCaller, conn: Conn, limit: Limit = 10, skip: Skip = 0
) -> Response:
    return json_response(await admin.list_page(conn, caller.scope_id, limit=limit, skip=skip))


@admin_router.post(
    "/webhooks",
    operation_id="admin_webhooks_create",
    status_code=201,
    response_model=CreateWebhooksResponse,
    responses={
        200: {"model": CreateWebhooksResponse, "description": "Nothing was created"},
        **error_responses(401, 422),
    },
    openapi_extra=array_body(CreateWebhookRequestItem),
)
async def create_webhooks(
    request: Request, caller: AdminCaller, conn: Conn, now: Now, runtime: RuntimeDep
) -> Response:
    items = require_array(await read_json(request), what="webhooks")
    issues: list[AdminIssue] = []
    valid = validate_items(CreateWebhookRequestItem, items, issues)
    created = await admin.create(
        conn,
        caller.scope_id,
        valid,
        issues,
        now,
        allow_private=runtime.settings.webhook_allow_private,
    )
    if created:  # the scope's webhook interest (ScopeConfig.webhooks) may have changed
        await bump_config_version(conn, caller.scope_id, runtime.config)
    body = CreateWebhooksResponse(created=created, issues=by_position(issues))
    return json_response(body, 201 if created else 200)


@admin_router.patch(
    "/webhooks",
    operation_id="admin_webhooks_update",
    response_model=UpdateWebhooksResponse,
    responses=error_responses(401, 422),
    openapi_extra=array_body(UpdateWebhookRequestItem),
)
async def update_webhooks(
    request: Request, caller: AdminCaller, conn: Conn, now: Now, runtime: RuntimeDep
) -> Response:
    items = require_array(await read_json(request), what="webhooks")
    issues: list[AdminIssue] = []
    valid = validate_items(UpdateWebhookRequestItem, items, issues, id_field="id")
    updated = await admin.update_many(
        conn,
        caller.scope_id,
        valid,
        issues,
        now,
        allow_private=runtime.settings.webhook_allow_private,
    )
    if updated:  # events or status may have changed the scope's webhook interest
        await bump_config_version(conn, caller.scope_id, runtime.config)
    return json_response(UpdateWebhooksResponse(updated=updated, issues=issues))


@admin_router.delete(
    "/webhooks",
    operation_id="admin_webhooks_delete",
    response_model=DeleteResponse,
    responses=error_responses(401, 422),
)
async def delete_webhooks(
    caller: AdminCaller, conn: Conn, now: Now, runtime: RuntimeDep, ids: Ids = None
) -> Response:
    deleted, issues = await admin.archive(conn, caller.scope_id, parse_id_list(ids), now)
    if deleted:  # archived subscriptions want nothing any more
        await bump_config_version(conn, caller.scope_id, runtime.config)
    return json_response(DeleteResponse(deleted=deleted, issues=issues))


@admin_router.get(
    "/webhooks/{id}",
    operation_id="admin_webhooks_get",
    response_model=Webhook,
    responses=error_responses(401, 404, 422),
)
async def get_webhook(id: str, caller: AdminCaller, conn: Conn) -> Response:
    return json_response(admin.to_wire(await admin.get(conn, caller.scope_id, id)))


@admin_router.post(
    "/webhooks/{id}/rotate-secret",
    operation_id="admin_webhooks_rotate_secret",
    response_model=RotatedSecret,
    responses=error_responses(401, 404, 422),
)
async def rotate_secret(id: str, caller: AdminCaller, conn: Conn, now: Now) -> Response:
    webhook_id, secret = await admin.rotate_secret(conn, caller.scope_id, id, now)
    return json_response(RotatedSecret(id=str(webhook_id), secret=secret))


async def _send_and_show(runtime: Runtime, scope_id: int, delivery_id: str) -> Response:
    async with runtime.db.transaction() as conn:
        now = await runtime.clock.now(conn)
        row = await admin.find_delivery(conn, scope_id, delivery_id)
    await send_now(runtime, row.id, now)
    async with runtime.db.transaction(write=False) as conn:
        return json_response(await admin.delivery_with_attempts(conn, scope_id, delivery_id))


@admin_router.post(
    "/webhooks/{id}/test",
    operation_id="admin_webhooks_test",
    dependencies=[ReadOnly],
    response_model=DeliveryWithAttempts,
    responses=error_responses(401, 404, 422),
)
async def send_test(id: str, caller: AdminCaller, runtime: RuntimeDep) -> Response:
    async with runtime.db.transaction() as conn:
        now = await runtime.clock.now(conn)
        delivery_id = await admin.queue_test(conn, caller.scope_id, id, now)
    return await _send_and_show(runtime, caller.scope_id, str(delivery_id))


@admin_router.get(
    "/webhooks/{id}/deliveries",
    operation_id="admin_webhooks_deliveries",
    response_model=list[Delivery],
    responses=error_responses(401, 404, 422),
)
async def list_deliveries(
    id: str,
    caller: AdminCaller,
    conn: Conn,
    status: StatusQuery = None,
    limit: Limit = 10,
    skip: Skip = 0,
) -> Response:
    found = await admin.list_deliveries(
        conn, caller.scope_id, id, status=status, limit=limit, skip=skip
    )
    return json_response(found)


@admin_router.get(
    "/webhooks/deliveries/{deliveryId}",
    operation_id="admin_webhooks_delivery_get",
    response_model=DeliveryWithAttempts,
    responses=error_responses(401, 404, 422),
)
async def get_delivery(
    delivery_id: Annotated[str, Path(alias="deliveryId")], caller: AdminCaller, conn: Conn
) -> Response:
    return json_response(await admin.delivery_with_attempts(conn, caller.scope_id, delivery_id))


@admin_router.post(
    "/webhooks/deliveries/{deliveryId}/retry",
    operation_id="admin_webhooks_delivery_retry",
    dependencies=[ReadOnly],
    response_model=DeliveryWithAttempts,
    responses=error_responses(401, 404, 422),
)
async def retry_delivery(
    delivery_id: Annotated[str, Path(alias="deliveryId")], caller: AdminCaller, runtime: RuntimeDep
) -> Response:
    return await _send_and_show(runtime, caller.scope_id, delivery_id)
