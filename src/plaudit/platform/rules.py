"""Scope settings: defaults, and how a PATCH merges into what is stored. Pure functions."""

from __future__ import annotations

from typing import Any

from plaudit.core.errors import Unprocessable
from plaudit.core.periods import is_valid_timezone
from plaudit.platform.schemas import AdminSettings, UpdateAdminSettingsRequest

DEFAULT_SETTINGS: dict[str, Any] = {
    "branding": {
        "appName": "My App",
        "appUrl": "",
        "brandColor": "#4F46E5",
        "font": "MODERN_SANS",
        "logo": None,
        "appIcon": None,
    },
    "experimentation": {"controlRatio": 0, "userActivationWindow": 7},
    "aggregationPeriod": "weekly",
    "defaultTimezone": "UTC",
    "weekStartsOn": 0,
}

_NESTED = ("branding", "experimentation")


def effective_settings(stored: dict[str, Any]) -> AdminSettings:
    """Stored overrides on top of the defaults."""
    merged: dict[str, Any] = {}
    for key, default in DEFAULT_SETTINGS.items():
        value = stored.get(key, default)
        if key in _NESTED:
            value = {**default, **(stored.get(key) or {})}
        merged[key] = value
    return AdminSettings.model_validate(merged)


def apply_settings_patch(
    stored: dict[str, Any], patch: UpdateAdminSettingsRequest
) -> dict[str, Any]:
    """The stored overrides after `patch`: omitted keys stay, nested objects merge by field."""
    sent = patch.model_fields_set
    for nested in _NESTED:
        if nested in sent and getattr(patch, nested) is None:
            raise Unprocessable(f"{nested} may not be null; omit it to keep the current value")
    if "default_timezone" in sent and (
        patch.default_timezone is None or not is_valid_timezone(patch.default_timezone)
    ):
        raise Unprocessable(f"defaultTimezone {patch.default_timezone!r} is not an IANA time zone")
    result = {
        key: (dict(value) if isinstance(value, dict) else value) for key, value in stored.items()
    }
    for nested in _NESTED:
        section = getattr(patch, nested)
        if section is None:
            continue
        fields = section.model_dump(by_alias=True, mode="json", include=section.model_fields_set)
        for name, value in fields.items():
            if value is None and name not in ("logo", "appIcon"):
                continue  # null on a plain optional field means "keep"
            result.setdefault(nested, {})[name] = value
    for field, wire in (
        ("aggregation_period", "aggregationPeriod"),
        ("default_timezone", "defaultTimezone"),
        ("week_starts_on", "weekStartsOn"),
    ):
        value = getattr(patch, field)
        if field in sent and value is not None:
            result[wire] = value
    return result
