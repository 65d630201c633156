"""Wire models of the streak settings (`/admin/v1/streaks/settings`), in the SDK 1.27 shape."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from plaudit.core.schemas import ApiModel, RequestModel, StrictBool, StrictInt

StreakFrequency = Literal["daily", "weekly", "monthly"]
EvaluationMode = Literal["AND", "OR"]
Weekday = Annotated[StrictInt, Field(ge=0, le=6)]  # as JavaScript getDay(): 0 = Sunday


class StreakSettingsMetric(ApiModel):
    key: str = Field(min_length=1, max_length=255)
    threshold: StrictInt = Field(ge=1, le=10_000)


class StreakSettingsFreezes(ApiModel):
    start_count: int
    max_count: int
    auto_earn_interval: int | None
    auto_earn_amount: int | None


class StreakSettings(ApiModel):
    frequency: StreakFrequency
    evaluation_mode: EvaluationMode
    customization_enabled: bool
    days_off: list[int]
    metrics: list[StreakSettingsMetric]
    freezes: StreakSettingsFreezes | None


class UpdateStreakSettingsFreezes(RequestModel):
    start_count: StrictInt = Field(ge=0, le=100)
    max_count: StrictInt = Field(ge=1, le=100)
    auto_earn_interval: StrictInt | None = Field(None, ge=1, le=365)
    auto_earn_amount: StrictInt | None = Field(None, ge=1, le=10)


class UpdateStreakSettingsRequest(RequestModel):
    frequency: StreakFrequency | None = None
    evaluation_mode: EvaluationMode | None = None
    customization_enabled: StrictBool | None = None
    days_off: list[Weekday] | None = Field(None, max_length=6)
    metrics: list[StreakSettingsMetric] | None = Field(None, min_length=1, max_length=100)
    freezes: UpdateStreakSettingsFreezes | None = None
