"""Metrics: admin definitions, per-user totals and event summaries."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any, Literal

from sqlalchemy import Row, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from plaudit.core import admin_crud
from plaudit.core.errors import NotFound, Unprocessable
from plaudit.core.ids import new_id
from plaudit.core.periods import Unit, add_periods, local_date, period_starts, start_of_local_day
from plaudit.core.references import METRIC_REFERENCES
from plaudit.core.schemas import AdminIssue, DeletedResource
from plaudit.events.tables import events
from plaudit.metrics import rules
from plaudit.metrics.schemas import (
    CreatedMetric,
    CreateMetricRequestItem,
    EventSummaryItem,
    MetricResponse,
    UpdateMetricRequestItem,
)
from plaudit.metrics.tables import metric_totals, metrics
from plaudit.platform.config import MetricConfig, ScopeConfig

THING = "Metric"
KEY_TAKEN = "Key already in use by another metric"
Aggregation = Literal["daily", "weekly", "monthly"]
_UNITS: dict[str, Unit] = {"daily": "day", "weekly": "week", "monthly": "month"}
MAX_SUMMARY_DAYS = 400
# Periods, time zones and the day after a range must stay inside Python's calendar.
SUMMARY_FIRST_DAY = dt.date(2, 1, 1)
SUMMARY_LAST_DAY = dt.date(9998, 12, 31)


def to_wire(row: Row[Any]) -> CreatedMetric:
    return CreatedMetric(
        id=str(row.id),
        name=row.name,
        key=row.key,
        unit_type=row.unit_type,
        units=row.units,
        status=row.status,
    )


def _units_for(unit_type: str, units: str | None) -> str | None:
    """The stored units, or None when a currency metric lacks a valid code."""
    if unit_type == "currency":
        return rules.normalize_currency(units)
    return units or ""


def _currency_issue(units: str | None) -> str:
    return f"units {units!r} is not a supported currency code (ISO 4217, e.g. USD, GBP, EUR)"


async def create(
    conn: AsyncConnection,
    scope_id: int,
    items: Sequence[tuple[int, CreateMetricRequestItem]],
    issues: list[AdminIssue],
    now: dt.datetime,
) -> list[CreatedMetric]:
    created: list[CreatedMetric] = []
    for index, item in items:
        units = _units_for(item.unit_type, item.units)
        if units is None:
            issues.append(
                AdminIssue(index=index, severity="error", message=_currency_issue(item.units))
            )
            continue
        taken = await conn.scalar(
            select(metrics.c.id).where(
                metrics.c.scope_id == scope_id,
                metrics.c.key == item.key,
                metrics.c.status == "active",
            )
        )
        if taken is not None:
            issues.append(AdminIssue(index=index, severity="error", message=KEY_TAKEN))
            continue
        values = {
            "id": new_id(),
            "scope_id": scope_id,
            "key": item.key,
            "name": item.name,
            "unit_type": item.unit_type,
            "units": units,
            "status": "active",
            "created": now,
            "updated": now,
        }
        try:
            async with conn.begin_nested():
                await conn.execute(insert(metrics).values(**values))
        except IntegrityError:
            issues.append(AdminIssue(index=index, severity="error", message=KEY_TAKEN))
            continue
        created.append(
            CreatedMetric(
                id=str(values["id"]),
                name=item.name,
                key=item.key,
                unit_type=item.unit_type,
                units=units,
                status="active",
            )
        )
    return created


async def update_many(
    conn: AsyncConnection,
    scope_id: int,
    items: Sequence[tuple[int, UpdateMetricRequestItem]],
    issues: list[AdminIssue],
    now: dt.datetime,
) -> list[CreatedMetric]:
    updated: list[CreatedMetric] = []
    for _index, item in items:
        item_id = admin_crud.item_uuid(item.id, issues)
        if item_id is None:
            continue
        row = await admin_crud.find_active(conn, metrics, scope_id, item_id)
        if row is None:
            issues.append(
                AdminIssue(id=item.id, severity="error", message=f"{THING} not found by ID")
            )
            continue
        unit_type = item.unit_type or row.unit_type
        requested_units = item.units if item.units is not None else row.units
        units = _units_for(unit_type, requested_units)
        if units is None:
            issues.append(
                AdminIssue(id=item.id, severity="error", message=_currency_issue(requested_units))
            )
            continue
        name = item.name or row.name
        await conn.execute(
            update(metrics)
            .where(metrics.c.id == item_id)
            .values(name=name, unit_type=unit_type, units=units, updated=now)
        )
        updated.append(
            CreatedMetric(
                id=str(row.id),
                name=name,
                key=row.key,
                unit_type=unit_type,
                units=units,
                status="active",
            )
        )
    return updated


async def archive(
    conn: AsyncConnection, scope_id: int, raw_ids: Sequence[str], now: dt.datetime
) -> tuple[list[DeletedResource], list[AdminIssue]]:
    return await admin_crud.archive(
        conn, metrics, scope_id, raw_ids, thing=THING, now=now, references=METRIC_REFERENCES
    )


def metric_by_key(config: ScopeConfig, key: str) -> MetricConfig:
    metric = config.metrics_by_key.get(key)
    if metric is None:
        raise NotFound(f"Metric '{key}' not found")
    return metric


async def user_totals(conn: AsyncConnection, user_pk: int) -> dict[Any, int]:
    rows = await conn.execute(
        select(metric_totals.c.metric_id, metric_totals.c.total).where(
            metric_totals.c.user_pk == user_pk
        )
    )
    return {row.metric_id: row.total for row in rows}


def progress(
    metric: MetricConfig, total_micro: int, achievements: list[dict[str, Any]]
) -> MetricResponse:
    return MetricResponse(
        id=str(metric.id),
        key=metric.key,
        name=metric.name,
        current=rules.from_micro(total_micro),
        status="active",
        achievements=achievements,
    )


async def event_summary(
    conn: AsyncConnection,
    config: ScopeConfig,
    *,
    user_pk: int,
    user_tz: str | None,
    metric: MetricConfig,
    aggregation: Aggregation,
    start: dt.date,
    end: dt.date,
) -> list[EventSummaryItem]:
    for name, day in (("startDate", start), ("endDate", end)):
        if not SUMMARY_FIRST_DAY <= day <= SUMMARY_LAST_DAY:
            raise Unprocessable(
                f"{name} {day.isoformat()} is outside the supported range "
                f"{SUMMARY_FIRST_DAY.isoformat()} to {SUMMARY_LAST_DAY.isoformat()}"
            )
    if start > end:
        raise Unprocessable("startDate must not be after endDate")
    if (end - start).days > MAX_SUMMARY_DAYS:
        raise Unprocessable(
            f"The range from startDate to endDate may not exceed {MAX_SUMMARY_DAYS} days"
        )
    unit = _UNITS[aggregation]
    tz = config.user_zone(user_tz)
    starts = period_starts(start, end, unit, config.week_starts_on)
    range_start = start_of_local_day(starts[0], tz)
    range_end = start_of_local_day(add_periods(starts[-1], unit, 1), tz)
    of_user = (events.c.user_pk == user_pk, events.c.metric_id == metric.id)
    current = await conn.scalar(
        select(metric_totals.c.total).where(
            metric_totals.c.user_pk == user_pk, metric_totals.c.metric_id == metric.id
        )
    )
    after_range = await conn.scalar(
        select(func.coalesce(func.sum(events.c.value), 0)).where(
            *of_user, events.c.created >= range_end
        )
    )
    rows = (
        await conn.execute(
            select(events.c.created, events.c.value).where(
                *of_user, events.c.created >= range_start, events.c.created < range_end
            )
        )
    ).all()
    in_range = sum(row.value for row in rows)
    total_before = int(current or 0) - int(after_range or 0) - in_range
    buckets = rules.summarize(
        starts, unit, ((local_date(row.created, tz), row.value) for row in rows), total_before
    )
    return [
        EventSummaryItem(
            date=b.date, total=rules.from_micro(b.total), change=rules.from_micro(b.change)
        )
        for b in buckets
    ]
