"""Request models of the points Admin API (SDK 1.27.0 shapes). Responses are built as
JSON by `admin_views` and `views`."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import Field, StrictBool, StrictStr, field_validator

from plaudit.achievements.schemas import AttributeFilter, Badge
from plaudit.core.schemas import RequestModel, StrictInt, StrictNumber

Key = Annotated[StrictStr, Field(min_length=1, max_length=255, pattern=r"^[a-zA-Z\d_-]+$")]
TriggerType = Literal["metric", "achievement", "streak", "time", "user_creation"]
Rounding = Literal["down", "up", "nearest"]
Filters = Annotated[list[AttributeFilter], Field(max_length=20)]
MAX_POINTS = 10**15  # balances stay far inside 64 bits


class CreateLevel(RequestModel):
    name: StrictStr = Field(min_length=1, max_length=255)
    key: Key
    points: StrictInt = Field(ge=0, le=MAX_POINTS)
    description: StrictStr | None = Field(None, max_length=2000)
    badge: Badge | None = None


class UpdateLevel(RequestModel):
    id: StrictStr
    name: StrictStr | None = Field(None, min_length=1, max_length=255)
    points: StrictInt | None = Field(None, ge=0, le=MAX_POINTS)
    description: StrictStr | None = Field(None, max_length=2000)
    badge: Badge | None = None


class CreateTrigger(RequestModel):
    type: TriggerType
    points: StrictInt = Field(ge=-MAX_POINTS, le=MAX_POINTS)
    status: Literal["active", "inactive"] | None = None
    user_attributes: Filters | None = None
    metric_id: StrictStr | None = None
    metric_threshold: StrictInt | None = Field(None, ge=1, le=10**9)
    event_attributes: Filters | None = None
    achievement_id: StrictStr | None = None
    streak_length: StrictInt | None = Field(None, ge=1, le=100_000)
    time_unit: Literal["hours", "days"] | None = None
    time_interval: StrictInt | None = Field(None, ge=1, le=100_000)
    block_if_out_of_points: StrictBool | None = None


class UpdateTrigger(CreateTrigger):
    id: StrictStr
    type: TriggerType | None = None  # type: ignore[assignment]
    points: StrictInt | None = Field(None, ge=-MAX_POINTS, le=MAX_POINTS)  # type: ignore[assignment]


def _date(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            raise ValueError("must be a date (YYYY-MM-DD)") from None
    return value


class CreateBoost(RequestModel):
    user_id: StrictStr | None = Field(None, min_length=1, max_length=255)
    name: StrictStr = Field(min_length=1, max_length=255)
    start: dt.date
    end: dt.date | None = None
    multiplier: StrictNumber = Field(gt=0, lt=100)
    rounding: Rounding | None = None
    user_attributes: Filters | None = None

    _dates = field_validator("start", "end", mode="before")(_date)


class UpdateBoost(RequestModel):
    id: StrictStr
    name: StrictStr | None = Field(None, min_length=1, max_length=255)
    start: dt.date | None = None
    end: dt.date | None = None
    multiplier: StrictNumber | None = Field(None, gt=0, lt=100)
    rounding: Rounding | None = None
    user_attributes: Filters | None = None

    _dates = field_validator("start", "end", mode="before")(_date)


class CreateSystem(RequestModel):
    name: StrictStr = Field(min_length=1, max_length=255)
    key: Key
    description: StrictStr | None = Field(None, max_length=2000)
    badge: Badge | None = None
    max_points: StrictInt | None = Field(None, ge=1, le=MAX_POINTS)
    levels: list[dict[str, Any]] | None = Field(None, max_length=100)
    boosts: list[dict[str, Any]] | None = Field(None, max_length=100)
    triggers: list[dict[str, Any]] | None = Field(None, max_length=100)


class UpdateSystem(RequestModel):
    id: StrictStr
    name: StrictStr | None = Field(None, min_length=1, max_length=255)
    description: StrictStr | None = Field(None, max_length=2000)
    badge: Badge | None = None
    max_points: StrictInt | None = Field(None, ge=1, le=MAX_POINTS)
