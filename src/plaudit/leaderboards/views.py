"""Leaderboards as the Application API and the webhooks show them."""

from __future__ import annotations

from typing import Any

from plaudit.leaderboards import rules
from plaudit.leaderboards.points_link import points_system_names
from plaudit.leaderboards.rules import LeaderboardConfig, Run
from plaudit.leaderboards.schemas import LeaderboardResponse
from plaudit.platform.config import ScopeConfig


def config_fields(
    config: ScopeConfig,
    board: LeaderboardConfig,
    *,
    status: str | None = None,
    run: Run | None = None,
) -> dict[str, Any]:
    """The `LeaderboardResponse` fields (JSON-ready); `run` replaces start/end by the run's
    dates (the event response), `status` overrides the stored one (finished payloads)."""
    metric = config.metrics_by_id.get(board.metric_id) if board.metric_id else None
    points = points_system_names(config, board.points_system_id)
    keys = [key for _id, key in board.breakdown]
    shown_status = status or board.status
    body = LeaderboardResponse(
        id=str(board.id),
        name=board.name,
        key=board.key,
        status=shown_status if shown_status != "inactive" else "active",
        description=board.description,
        rank_by=board.rank_by,
        breakdown_attribute=keys[0] if len(keys) == 1 else None,
        breakdown_attributes=keys,
        metric_key=metric.key if metric and board.rank_by == "metric" else None,
        metric_name=metric.name if metric and board.rank_by == "metric" else None,
        points_system_key=points[0] if points and board.rank_by == "points" else None,
        points_system_name=points[1] if points and board.rank_by == "points" else None,
        start=run.start if run else board.start,
        end=run.end if run else board.end,
        start_time=board.start_time,
        end_time=board.end_time,
        max_participants=board.max_participants,
        run_unit=board.run_unit,
        run_interval=board.run_interval,
        user_attributes=[{"key": k, "value": v} for k, v in board.user_filters],
    )
    return body.model_dump(mode="json", by_alias=True)


def group_values(board: LeaderboardConfig, group: str) -> dict[str, Any]:
    pairs = rules.group_pairs(board, group)
    out: dict[str, Any] = {"breakdownAttributeValues": [{"key": k, "value": v} for k, v in pairs]}
    if len(pairs) == 1:
        out["breakdownAttributeValue"] = pairs[0][1]
    return out
