"""Wire models of metrics: admin definitions and a user's progress."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from plaudit.attributes.schemas import ResourceKey
from plaudit.core.schemas import AdminIssue, ApiModel, Date, Number, RequestModel

UnitType = Literal["number", "currency"]
MetricStatus = Literal["active", "archived"]


class CreatedMetric(ApiModel):
    id: str
    name: str
    key: str
    unit_type: UnitType
    units: str
    status: MetricStatus


class CreateMetricRequestItem(RequestModel):
    name: str = Field(min_length=1, max_length=255)
    key: ResourceKey
    unit_type: UnitType = "number"
    units: str | None = Field(None, max_length=64)


class UpdateMetricRequestItem(RequestModel):
    id: str
    name: str | None = Field(None, min_length=1, max_length=255)
    unit_type: UnitType | None = None
    units: str | None = Field(None, max_length=64)


class CreateMetricsResponse(ApiModel):
    created: list[CreatedMetric]
    issues: list[AdminIssue]


class UpdateMetricsResponse(ApiModel):
    updated: list[CreatedMetric]
    issues: list[AdminIssue]


class MetricResponse(ApiModel):
    id: str
    key: str
    name: str
    current: Number
    status: MetricStatus
    # UserAchievementResponse items, provided by the achievements feature.
    achievements: list[dict[str, Any]]


class EventSummaryItem(ApiModel):
    date: Date
    total: Number
    change: Number
