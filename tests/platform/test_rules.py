"""Scope settings: defaults and PATCH merging."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from plaudit.core.errors import Unprocessable
from plaudit.platform.rules import apply_settings_patch, effective_settings
from plaudit.platform.schemas import UpdateAdminSettingsRequest


def patch(body: dict[str, object]) -> UpdateAdminSettingsRequest:
    return UpdateAdminSettingsRequest.model_validate(body)


def test_defaults() -> None:
    settings = effective_settings({})
    assert settings.experimentation.control_ratio == 0
    assert settings.aggregation_period == "weekly"
    assert settings.default_timezone == "UTC"
    assert settings.week_starts_on == 0
    assert settings.branding.logo is None


def test_nested_objects_merge_field_by_field() -> None:
    stored = apply_settings_patch({}, patch({"branding": {"appName": "Acme"}}))
    stored = apply_settings_patch(stored, patch({"branding": {"brandColor": "#fff"}}))
    settings = effective_settings(stored)
    assert settings.branding.app_name == "Acme"
    assert settings.branding.brand_color == "#fff"


def test_null_clears_logo_but_sections_may_not_be_null() -> None:
    stored = apply_settings_patch({}, patch({"branding": {"logo": {"url": "https://x.io/l.png"}}}))
    assert effective_settings(stored).branding.logo is not None
    stored = apply_settings_patch(stored, patch({"branding": {"logo": None}}))
    assert effective_settings(stored).branding.logo is None
    with pytest.raises(Unprocessable, match="branding may not be null"):
        apply_settings_patch({}, patch({"branding": None}))


def test_values_are_validated() -> None:
    with pytest.raises(ValidationError):
        patch({"experimentation": {"controlRatio": 101}})
    with pytest.raises(ValidationError):
        patch({"branding": {"brandColor": "red"}})
    with pytest.raises(ValidationError):
        patch({"branding": {"appUrl": "not a url"}})
    with pytest.raises(Unprocessable, match="IANA"):
        apply_settings_patch({}, patch({"defaultTimezone": "Mars/Base"}))
