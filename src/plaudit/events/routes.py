"""Application API `POST /metrics/{key}/event`; Admin API `POST /metrics/events`."""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import TypeAdapter, ValidationError
from starlette.responses import Response

from plaudit.core.db import on_commit
from plaudit.core.errors import BadRequest, PlauditError, Unprocessable
from plaudit.core.http import describe_validation_errors, json_response, read_json, read_model
from plaudit.core.openapi import API_KEY_SECURITY, array_body, header, object_body
from plaudit.core.schemas import error_responses
from plaudit.deps import AdminCaller, Conn, Now, RuntimeDep, authenticate_request, scope_config
from plaudit.events import batch, pipeline
from plaudit.events.schemas import (
    BatchEventsResponse,
    BatchMetricEvent,
    EventResponse,
    MetricEventRequest,
)
from plaudit.runtime import Runtime

app_router = APIRouter(tags=["Metrics"])
admin_router = APIRouter(tags=["Metrics"])

IDEMPOTENCY_KEY_MAX = 255
IDEMPOTENCY_HEADER = header(
    "Idempotency-Key",
    "Send the same key again (same user and metric) and the event is not counted twice.",
    max_length=IDEMPOTENCY_KEY_MAX,
)
TENANT_HEADER = header("Tenant-ID", "Your own id (customerId) of the tenant to act on.")
_batch_items = TypeAdapter(list[BatchMetricEvent])


@app_router.post(
    "/metrics/{key}/event",
    operation_id="metrics_event",
    status_code=201,
    response_model=EventResponse,
    responses={
        202: {
            "model": EventResponse,
            "description": "Replay of an Idempotency-Key: nothing was counted",
        },
        **error_responses(400, 401, 403, 404, 422),
    },
    openapi_extra={
        **object_body(MetricEventRequest),
        "parameters": [TENANT_HEADER, IDEMPOTENCY_HEADER],
        "security": API_KEY_SECURITY,
    },
)
async def send_event(key: str, request: Request) -> Response:
    # The hot path reads headers and body itself instead of through dependency
    # injection, which costs more per request than the whole event's SQL.
    runtime: Runtime = request.app.state.runtime
    idempotency_key = request.headers.get("idempotency-key")
    if idempotency_key is not None and not 1 <= len(idempotency_key) <= IDEMPOTENCY_KEY_MAX:
        raise BadRequest(f"Idempotency-Key must be 1 to {IDEMPOTENCY_KEY_MAX} characters long")
    async with runtime.db.transaction() as conn:
        now = await runtime.clock.now(conn)
        caller = await authenticate_request(request, runtime, conn, now, admin_api=False)
        body = await read_model(request, MetricEventRequest)
        caller.require_user(body.user.id)
        config = await runtime.config.get(conn, caller.scope_id)
        item = pipeline.validate(
            config,
            metric_key=key,
            user=body.user,
            value=body.value,
            attributes=body.attributes,
            idempotency_key=idempotency_key,
        )
        [outcome] = await pipeline.process(conn, config, [item], now)
        status, response = await pipeline.respond(conn, config, outcome, now)
    return json_response(response, status)


@admin_router.post(
    "/metrics/events",
    operation_id="admin_metrics_batch_events",
    status_code=202,
    response_model=BatchEventsResponse,
    responses=error_responses(400, 401, 404, 422),
    openapi_extra=array_body(BatchMetricEvent, max_items=batch.MAX_BATCH),
)
async def send_events(
    request: Request, caller: AdminCaller, conn: Conn, now: Now, runtime: RuntimeDep
) -> Response:
    raw = await read_json(request)
    if not isinstance(raw, list) or not raw:
        raise Unprocessable("Request body must be a non-empty JSON array of events")
    if len(raw) > batch.MAX_BATCH:
        raise Unprocessable(f"A batch may contain at most {batch.MAX_BATCH} events; got {len(raw)}")
    try:
        items = _batch_items.validate_python(raw)
    except ValidationError as exc:
        raise BadRequest(describe_validation_errors(exc.errors(), drop_prefix=None)) from None
    config = await scope_config(runtime, conn, caller)
    for index, item in enumerate(items):
        try:
            batch.to_input(config, item)
        except PlauditError as exc:
            raise type(exc)(f"Event {index}: {exc.message}") from None
    payload = batch.BatchPayload(
        accepted_at=now,
        items=[item.model_dump(by_alias=True, exclude_unset=True) for item in items],
    )
    await batch.process_batch.enqueue(conn, payload, now=now, scope_id=caller.scope_id)
    on_commit(conn, runtime.wake_worker)
    return json_response(BatchEventsResponse(accepted=len(items)), 202)
