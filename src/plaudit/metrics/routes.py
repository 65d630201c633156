"""Admin API `/metrics`; Application API `/users/{id}/metrics…`."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from plaudit.achievements import views as achievement_views
from plaudit.core import admin_crud
from plaudit.core.bulk import by_position, parse_id_list, require_array, validate_items
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
from plaudit.metrics import service
from plaudit.metrics.schemas import (
    CreatedMetric,
    CreateMetricRequestItem,
    CreateMetricsResponse,
    EventSummaryItem,
    MetricResponse,
    UpdateMetricRequestItem,
    UpdateMetricsResponse,
)
from plaudit.metrics.tables import metrics
from plaudit.platform.config import bump_config_version
from plaudit.platform.schemas import DeleteResponse
from plaudit.users import service as users

admin_router = APIRouter(tags=["Metrics"])
app_router = APIRouter(tags=["Users"])


@admin_router.get(
    "/metrics",
    operation_id="admin_metrics_list",
    response_model=list[CreatedMetric],
    responses=error_responses(401, 422),
)
async def list_metrics(
    caller: AdminCaller, conn: Conn, limit: Limit = 10, skip: Skip = 0
) -> Response:
    rows = await admin_crud.list_active(conn, metrics, caller.scope_id, limit=limit, skip=skip)
    return json_response([service.to_wire(row) for row in rows])


@admin_router.post(
    "/metrics",
    operation_id="admin_metrics_create",
    status_code=201,
    response_model=CreateMetricsResponse,
    responses={
        200: {"model": CreateMetricsResponse, "description": "Nothing was created"},
        **error_responses(401, 422),
    },
    openapi_extra=array_body(CreateMetricRequestItem),
)
async def create_metrics(
    request: Request, caller: AdminCaller, conn: Conn, now: Now, runtime: RuntimeDep
) -> Response:
    items = require_array(await read_json(request), what="metrics")
    issues: list[AdminIssue] = []
    valid = validate_items(CreateMetricRequestItem, items, issues)
    created = await service.create(conn, caller.scope_id, valid, issues, now)
    if created:
        await bump_config_version(conn, caller.scope_id, runtime.config)
    return json_response(
        CreateMetricsResponse(created=created, issues=by_position(issues)), 201 if created else 200
    )


@admin_router.patch(
    "/metrics",
    operation_id="admin_metrics_update",
    response_model=UpdateMetricsResponse,
    responses=error_responses(401, 422),
    openapi_extra=array_body(UpdateMetricRequestItem),
)
async def update_metrics(
    request: Request, caller: AdminCaller, conn: Conn, now: Now, runtime: RuntimeDep
) -> Response:
    items = require_array(await read_json(request), what="metrics")
    issues: list[AdminIssue] = []
    valid = validate_items(UpdateMetricRequestItem, items, issues, id_field="id")
    updated = await service.update_many(conn, caller.scope_id, valid, issues, now)
    if updated:
        await bump_config_version(conn, caller.scope_id, runtime.config)
    return json_response(UpdateMetricsResponse(updated=updated, issues=issues))


@admin_router.delete(
    "/metrics",
    operation_id="admin_metrics_delete",
    response_model=DeleteResponse,
    responses=error_responses(401, 422),
)
async def delete_metrics(
    caller: AdminCaller, conn: Conn, now: Now, runtime: RuntimeDep, ids: Ids = None
) -> Response:
    deleted, issues = await service.archive(conn, caller.scope_id, parse_id_list(ids), now)
    if deleted:
        await bump_config_version(conn, caller.scope_id, runtime.config)
    return json_response(DeleteResponse(deleted=deleted, issues=issues))


@admin_router.get(
    "/metrics/{id}",
    operation_id="admin_metrics_get",
    response_model=CreatedMetric,
    responses=error_responses(401, 404, 422),
)
async def get_metric(id: str, caller: AdminCaller, conn: Conn) -> Response:
    return json_response(
        service.to_wire(
            await admin_crud.get_active(conn, metrics, caller.scope_id, id, service.THING)
        )
    )


@app_router.get(
    "/users/{id}/metrics",
    operation_id="users_all_metrics",
    response_model=list[MetricResponse],
    responses=error_responses(401, 403, 404, 422),
)
async def user_metrics(id: str, caller: AppCaller, conn: Conn, runtime: RuntimeDep) -> Response:
    caller.require_user(id)
    config = await scope_config(runtime, conn, caller)
    user = await users.get(conn, caller.scope_id, id)
    assert user.pk is not None
    totals = await service.user_totals(conn, user.pk)
    done = await achievement_views.user_completions(conn, user.pk)
    return json_response(
        [
            service.progress(
                m,
                totals.get(m.id, 0),
                achievement_views.metric_progress(config, m.id, done, user.attributes),
            )
            for m in config.metrics_by_key.values()
        ]
    )


@app_router.get(
    "/users/{id}/metrics/{key}",
    operation_id="users_single_metric",
    response_model=MetricResponse,
    responses=error_responses(401, 403, 404, 422),
)
async def user_metric(
    id: str, key: str, caller: AppCaller, conn: Conn, runtime: RuntimeDep
) -> Response:
    caller.require_user(id)
    config = await scope_config(runtime, conn, caller)
    user = await users.get(conn, caller.scope_id, id)
    metric = service.metric_by_key(config, key)
    assert user.pk is not None
    totals = await service.user_totals(conn, user.pk)
    done = await achievement_views.user_completions(conn, user.pk)
    achievements = achievement_views.metric_progress(config, metric.id, done, user.attributes)
    return json_response(service.progress(metric, totals.get(metric.id, 0), achievements))


@app_router.get(
    "/users/{id}/metrics/{key}/event-summary",
    operation_id="users_metric_event_summary",
    response_model=list[EventSummaryItem],
    responses=error_responses(401, 403, 404, 422),
)
async def user_metric_event_summary(
    id: str,
    key: str,
    aggregation: Annotated[service.Aggregation, Query(description="Bucket size.")],
    start_date: Annotated[dt.date, Query(alias="startDate", description="First day (YYYY-MM-DD).")],
    end_date: Annotated[dt.date, Query(alias="endDate", description="Last day (YYYY-MM-DD).")],
    caller: AppCaller,
    conn: Conn,
    runtime: RuntimeDep,
) -> Response:
    caller.require_user(id)
    config = await scope_config(runtime, conn, caller)
    user = await users.get(conn, caller.scope_id, id)
    metric = service.metric_by_key(config, key)
    assert user.pk is not None
    summary = await service.event_summary(
        conn,
        config,
        user_pk=user.pk,
        user_tz=user.tz,
        metric=metric,
        aggregation=aggregation,
        start=start_date,
        end=end_date,
    )
    return json_response(summary)
