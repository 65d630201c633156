"""Wire models of leaderboards: the Admin API shape (SDK 1.27.0) and the Application API's."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import Field, StrictStr

from plaudit.achievements.schemas import ApiKey, AttributeFilter
from plaudit.core.schemas import AdminIssue, ApiModel, RequestModel, StrictInt, omit_none

RankBy = Literal["metric", "streak", "points"]
Status = Literal["inactive", "active", "scheduled", "finished"]
RunUnit = Literal["day", "month", "year"]
TimeOfDay = Annotated[StrictStr, Field(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9])?$")]


class AdminLeaderboard(ApiModel):
    id: str
    name: str
    key: str
    description: str | None = omit_none()
    status: Status
    rank_by: RankBy
    metric_id: str | None = omit_none()
    points_system_id: str | None = omit_none()
    max_participants: int
    start: dt.date
    end: dt.date | None = omit_none()
    start_time: str | None = omit_none()
    end_time: str | None = omit_none()
    breakdown_attributes: list[str]
    user_attributes: list[AttributeFilter]
    run_unit: RunUnit | None = omit_none()
    run_interval: int | None = omit_none()


class CreateLeaderboardRequestItem(RequestModel):
    name: StrictStr = Field(min_length=1, max_length=255)
    key: ApiKey
    rank_by: RankBy
    description: StrictStr | None = Field(None, max_length=2000)
    status: Status | None = None
    metric_id: StrictStr | None = None
    points_system_id: StrictStr | None = None
    max_participants: StrictInt | None = None
    start: dt.date | None = None
    end: dt.date | None = None
    start_time: TimeOfDay | None = None
    end_time: TimeOfDay | None = None
    breakdown_attributes: list[StrictStr] | None = Field(None, max_length=10)
    user_attributes: list[AttributeFilter] | None = Field(None, max_length=20)
    run_unit: RunUnit | None = None
    run_interval: StrictInt | None = None


class UpdateLeaderboardRequestItem(CreateLeaderboardRequestItem):
    id: StrictStr
    name: StrictStr | None = Field(None, min_length=1, max_length=255)  # type: ignore[assignment]
    key: ApiKey | None = None  # type: ignore[assignment]
    rank_by: RankBy | None = None  # type: ignore[assignment]


class CreateLeaderboardsResponse(ApiModel):
    created: list[AdminLeaderboard]
    issues: list[AdminIssue]


class UpdateLeaderboardsResponse(ApiModel):
    updated: list[AdminLeaderboard]
    issues: list[AdminIssue]


# --- Application API ----------------------------------------------------------------------


class KeyValue(ApiModel):
    key: str
    value: str


class LeaderboardResponse(ApiModel):
    id: str
    name: str
    key: str
    status: Literal["active", "scheduled", "finished"]
    description: str | None
    rank_by: RankBy
    breakdown_attribute: str | None
    breakdown_attributes: list[str]
    metric_key: str | None
    metric_name: str | None
    points_system_key: str | None
    points_system_name: str | None
    start: dt.date
    end: dt.date | None
    start_time: str | None
    end_time: str | None
    max_participants: int
    run_unit: RunUnit | None
    run_interval: int | None
    user_attributes: list[KeyValue]


class LeaderboardRanking(ApiModel):
    user_id: str
    user_name: str | None
    rank: int
    value: int


class LeaderboardResponseWithRankings(LeaderboardResponse):
    rankings: list[LeaderboardRanking]


class LeaderboardEvent(ApiModel):
    date: dt.date
    timestamp: str
    previous_rank: int | None
    rank: int | None
    previous_value: int | None
    value: int | None


class UserLeaderboardResponseWithHistory(LeaderboardResponse):
    rank: int | None
    value: int | None
    history: list[LeaderboardEvent]


class MetricEventLeaderboardResponse(LeaderboardResponse):
    rank: int | None
    previous_rank: int | None
    threshold: int
    breakdown_attribute_values: list[KeyValue]
    breakdown_attribute_value: str | None = omit_none()


class WebhookUserLeaderboardResponse(LeaderboardResponse):
    rank: int | None
    value: int | None
    previous_rank: int | None
    previous_value: int | None
