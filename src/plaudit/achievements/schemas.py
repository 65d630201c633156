"""Wire models of achievements: the Admin API shape (SDK 1.27.0) and the Application API's."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StrictStr

from plaudit.core.schemas import (
    AdminIssue,
    ApiModel,
    Number,
    RequestModel,
    StrictInt,
    StrictNumber,
    Timestamp,
    omit_none,
)
from plaudit.platform.schemas import Uri
from plaudit.users.schemas import UpsertedUser

Trigger = Literal["metric", "streak", "api", "achievement", "anniversary"]
Status = Literal["active", "inactive", "locked"]
ApiKey = Annotated[StrictStr, Field(min_length=1, max_length=255, pattern=r"^[a-zA-Z\d_-]+$")]


class Badge(ApiModel):
    url: Uri


class AttributeFilter(ApiModel):
    """A filter in the Admin API: the attribute by id, and the value it must have."""

    attribute_id: StrictStr
    attribute_value: StrictStr


class AdminAchievement(ApiModel):
    id: str
    name: str
    description: str | None
    trigger: Trigger
    status: Status
    badge: Badge | None
    user_attributes: list[AttributeFilter]
    key: str | None = omit_none()
    metric_id: str | None = omit_none()
    metric_value: Number | None = omit_none()
    event_attributes: list[AttributeFilter] | None = omit_none()
    streak_length: int | None = omit_none()
    anniversary_years: int | None = omit_none()
    achievement_ids: list[str] | None = omit_none()


class CreateAchievementRequestItem(RequestModel):
    name: StrictStr = Field(min_length=1, max_length=255)
    trigger: Trigger
    description: StrictStr | None = Field(None, max_length=2000)
    status: Status | None = None
    badge: Badge | None = None
    user_attributes: list[AttributeFilter] | None = Field(None, max_length=20)
    key: ApiKey | None = None
    metric_id: StrictStr | None = None
    metric_value: StrictNumber | None = None
    event_attributes: list[AttributeFilter] | None = Field(None, max_length=20)
    streak_length: StrictInt | None = None
    anniversary_years: StrictInt | None = None
    achievement_ids: list[StrictStr] | None = Field(None, max_length=100)


class UpdateAchievementRequestItem(CreateAchievementRequestItem):
    id: StrictStr
    name: StrictStr | None = Field(None, min_length=1, max_length=255)  # type: ignore[assignment]
    trigger: Trigger | None = None  # type: ignore[assignment]


class CreateAchievementsResponse(ApiModel):
    created: list[AdminAchievement]
    issues: list[AdminIssue]


class UpdateAchievementsResponse(ApiModel):
    updated: list[AdminAchievement]
    issues: list[AdminIssue]


class KeyValue(ApiModel):
    key: str
    value: str


class UserAchievementResponse(ApiModel):
    """The Application API's achievement, with `achievedAt` (null when not completed)."""

    id: str
    name: str
    trigger: Trigger
    description: str | None
    badge_url: str | None
    user_attributes: list[KeyValue]
    key: str | None = omit_none()
    streak_length: int | None = omit_none()
    anniversary_years: int | None = omit_none()
    achievement_ids: list[str] | None = omit_none()
    metric_id: str | None = omit_none()
    metric_value: Number | None = omit_none()
    metric_name: str | None = omit_none()
    event_attribute: KeyValue | None = omit_none()
    event_attributes: list[KeyValue] | None = omit_none()
    achieved_at: Timestamp | None


class AchievementWithStatsResponse(UserAchievementResponse):
    completions: int
    rarity: float
    # Without a user there is no completion time; the field is left out entirely.
    achieved_at: Timestamp | None = omit_none()


class UserAchievementWithStatsResponse(UserAchievementResponse):
    completions: int
    rarity: float


class AchievementCompletionResponse(ApiModel):
    completion_id: str
    achievement: UserAchievementResponse
    points: dict[str, dict[str, object]]


class CompleteAchievementRequest(RequestModel):
    user: UpsertedUser
