"""A scope's streak configuration: defaults, how a PATCH changes it, and the parsed form the
event pipeline and the sweeps read. Pure functions; the routes store the result.

Stored in the scope's settings document under `streaks`, with metrics by id (a metric key
may change; its id does not). Conditions on a metric that is later archived drop out.
Changes apply from the moment they are saved: periods already closed keep their outcome,
and the current period is judged by the settings in force when it is evaluated.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from plaudit.core.errors import Unprocessable
from plaudit.streaks.schemas import (
    StreakSettings,
    StreakSettingsFreezes,
    StreakSettingsMetric,
    UpdateStreakSettingsRequest,
)

DEFAULT_STREAK_SETTINGS: dict[str, Any] = {
    "frequency": "daily",
    "evaluationMode": "AND",
    "customizationEnabled": False,
    "daysOff": [],
    "metrics": [],
    "freezes": None,
}


@dataclass(frozen=True, slots=True)
class FreezeConfig:
    start_count: int
    max_count: int
    auto_earn_interval_days: int | None  # None: no automatic grants
    auto_earn_amount: int | None


@dataclass(frozen=True, slots=True)
class StreakConfig:
    frequency: Literal["daily", "weekly", "monthly"]
    evaluation_mode: Literal["AND", "OR"]
    customization_enabled: bool
    days_off: frozenset[int]  # 0 = Sunday ... 6 = Saturday; daily streaks only
    thresholds: tuple[tuple[uuid.UUID, int], ...]  # (metric id, threshold), live metrics only
    freezes: FreezeConfig | None

    @property
    def enabled(self) -> bool:
        """Streaks are computed only once at least one metric counts towards them."""
        return bool(self.thresholds)

    @property
    def metric_ids(self) -> frozenset[uuid.UUID]:
        return frozenset(metric_id for metric_id, _ in self.thresholds)


def _stored(document: Mapping[str, Any] | None) -> dict[str, Any]:
    return {**DEFAULT_STREAK_SETTINGS, **dict(document or {})}


def parse_streak_config(
    document: Mapping[str, Any] | None, live_metric_ids: frozenset[uuid.UUID]
) -> StreakConfig:
    stored = _stored(document)
    freezes = stored["freezes"]
    return StreakConfig(
        frequency=stored["frequency"],
        evaluation_mode=stored["evaluationMode"],
        customization_enabled=bool(stored["customizationEnabled"]),
        days_off=frozenset(stored["daysOff"]),
        thresholds=tuple(
            (uuid.UUID(m["metricId"]), int(m["threshold"]))
            for m in stored["metrics"]
            if uuid.UUID(m["metricId"]) in live_metric_ids
        ),
        freezes=None
        if freezes is None
        else FreezeConfig(
            start_count=freezes["startCount"],
            max_count=freezes["maxCount"],
            auto_earn_interval_days=freezes.get("autoEarnInterval"),
            auto_earn_amount=freezes.get("autoEarnAmount"),
        ),
    )


def render_streak_settings(
    document: Mapping[str, Any] | None, metric_keys: Mapping[uuid.UUID, str]
) -> StreakSettings:
    """The wire form; `metric_keys` holds the live metrics (archived ones drop out)."""
    stored = _stored(document)
    freezes = stored["freezes"]
    return StreakSettings(
        frequency=stored["frequency"],
        evaluation_mode=stored["evaluationMode"],
        customization_enabled=stored["customizationEnabled"],
        days_off=sorted(stored["daysOff"]),
        metrics=[
            StreakSettingsMetric(
                key=metric_keys[uuid.UUID(m["metricId"])], threshold=m["threshold"]
            )
            for m in stored["metrics"]
            if uuid.UUID(m["metricId"]) in metric_keys
        ],
        freezes=None
        if freezes is None
        else StreakSettingsFreezes(
            start_count=freezes["startCount"],
            max_count=freezes["maxCount"],
            auto_earn_interval=freezes.get("autoEarnInterval"),
            auto_earn_amount=freezes.get("autoEarnAmount"),
        ),
    )


def apply_streak_settings_patch(
    document: Mapping[str, Any] | None,
    patch: UpdateStreakSettingsRequest,
    metric_ids_by_key: Mapping[str, uuid.UUID],
) -> dict[str, Any]:
    """The stored document after `patch` (omitted keys stay); 422 on anything invalid."""
    sent = patch.model_fields_set
    for field, wire in (
        ("frequency", "frequency"),
        ("evaluation_mode", "evaluationMode"),
        ("customization_enabled", "customizationEnabled"),
        ("days_off", "daysOff"),
        ("metrics", "metrics"),
    ):
        if field in sent and getattr(patch, field) is None:
            raise Unprocessable(f"{wire} may not be null; omit it to keep the current value")
    result = _stored(document)
    if patch.frequency is not None:
        if patch.frequency != "daily":
            result["daysOff"] = []  # days off exist only for daily streaks
        result["frequency"] = patch.frequency
    if patch.evaluation_mode is not None:
        result["evaluationMode"] = patch.evaluation_mode
    if patch.customization_enabled is not None:
        result["customizationEnabled"] = patch.customization_enabled
    if patch.days_off is not None:
        if len(set(patch.days_off)) != len(patch.days_off):
            raise Unprocessable("daysOff lists a day more than once")
        if patch.days_off and result["frequency"] != "daily":
            raise Unprocessable("daysOff can only be set for a daily streak")
        result["daysOff"] = sorted(patch.days_off)
    if patch.metrics is not None:
        keys = [m.key for m in patch.metrics]
        if len(set(keys)) != len(keys):
            raise Unprocessable("metrics lists a metric key more than once")
        unknown = [key for key in keys if key not in metric_ids_by_key]
        if unknown:
            raise Unprocessable("Unknown metric keys in metrics: " + ", ".join(unknown))
        result["metrics"] = [
            {"metricId": str(metric_ids_by_key[m.key]), "threshold": m.threshold}
            for m in patch.metrics
        ]
    if "freezes" in sent:
        result["freezes"] = _freezes(patch)
    return result


def _freezes(patch: UpdateStreakSettingsRequest) -> dict[str, Any] | None:
    freezes = patch.freezes
    if freezes is None:
        return None
    if freezes.max_count < freezes.start_count:
        raise Unprocessable("freezes.maxCount must be at least freezes.startCount")
    if (freezes.auto_earn_interval is None) != (freezes.auto_earn_amount is None):
        raise Unprocessable(
            "freezes.autoEarnInterval and freezes.autoEarnAmount come as a pair: "
            "set both to turn automatic grants on, or neither to turn them off"
        )
    return {
        "startCount": freezes.start_count,
        "maxCount": freezes.max_count,
        "autoEarnInterval": freezes.auto_earn_interval,
        "autoEarnAmount": freezes.auto_earn_amount,
    }


def metric_in_streak_settings(document: Mapping[str, Any] | None, metric_id: uuid.UUID) -> bool:
    return any(m["metricId"] == str(metric_id) for m in _stored(document)["metrics"])
