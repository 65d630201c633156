"""Wire models of metric events."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, StrictStr

from plaudit.core.schemas import ApiModel, Date, Number, RequestModel, StrictNumber, omit_none
from plaudit.users.schemas import UpsertedUser

Frequency = Literal["daily", "weekly", "monthly"]


class MetricEventRequest(RequestModel):
    user: UpsertedUser = Field(description="The user who did it; created or updated inline.")
    value: StrictNumber = Field(
        description="Added to the user's total (may be negative or decimal)."
    )
    attributes: dict[str, StrictStr] | None = Field(
        None, description="Event attributes; every key must be a declared event attribute."
    )


class BatchMetricEvent(RequestModel):
    key: StrictStr = Field(min_length=1, description="Key of the metric.")
    user: UpsertedUser
    value: StrictNumber
    attributes: dict[str, StrictStr] | None = None
    idempotency_key: StrictStr | None = Field(None, min_length=1, max_length=255)


class BatchEventsResponse(ApiModel):
    accepted: int


class MetricEventStreakResponse(ApiModel):
    length: int
    frequency: Frequency
    started: Date | None
    period_start: Date | None
    period_end: Date | None
    expires: Date | None
    freezes: int | None = omit_none()
    max_freezes: int | None = omit_none()
    freeze_auto_earn_interval: int | None = omit_none()
    freeze_auto_earn_amount: int | None = omit_none()
    extended: bool


class EventResponse(ApiModel):
    event_id: str
    metric_id: str
    total: Number
    # UserAchievementResponse items, MetricEventPointsResponse and
    # MetricEventLeaderboardResponse values, filled by their features.
    achievements: list[dict[str, Any]]
    current_streak: MetricEventStreakResponse
    points: dict[str, dict[str, Any]]
    leaderboards: dict[str, dict[str, Any]]
    idempotency_key: str | None = omit_none()
    idempotent_replayed: bool | None = omit_none()
