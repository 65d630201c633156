"""Wire models of the platform: settings, environments, tenants, keys, test clock."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Literal

from pydantic import AfterValidator, Field

from plaudit.core.schemas import (
    AdminIssue,
    ApiModel,
    DeletedResource,
    RequestModel,
    StrictInt,
    Timestamp,
    omit_none,
)

Font = Literal[
    "MODERN_SANS",
    "BOOK_SANS",
    "ORGANIC_SANS",
    "GEOMETRIC_SANS",
    "HEAVY_SANS",
    "ROUNDED_SANS",
    "MODERN_SERIF",
    "BOOK_SERIF",
    "MONOSPACE",
]
AggregationPeriod = Literal["weekly", "monthly"]

_COLOR = re.compile(
    r"^(#[0-9a-fA-F]{3}|#[0-9a-fA-F]{6}"
    r"|rgb\(\s*\d{1,3}\s*,\s*\d{1,3}\s*,\s*\d{1,3}\s*\)"
    r"|rgba\(\s*\d{1,3}\s*,\s*\d{1,3}\s*,\s*\d{1,3}\s*,\s*(0|1|0?\.\d+|1\.0+)\s*\))$"
)
_URI = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://[^\s/?#]+[^\s]*$")


def _color(value: str) -> str:
    if not _COLOR.match(value):
        raise ValueError("brandColor must be #RGB, #RRGGBB, rgb(r,g,b) or rgba(r,g,b,a)")
    return value


def _uri(value: str) -> str:
    if not _URI.match(value):
        raise ValueError(f"{value!r} is not a valid absolute URI")
    return value


Uri = Annotated[str, AfterValidator(_uri)]


class Image(ApiModel):
    url: Uri


class Branding(ApiModel):
    app_name: str
    app_url: str
    brand_color: str
    font: Font
    logo: Image | None
    app_icon: Image | None


class Experimentation(ApiModel):
    control_ratio: int = Field(
        description="Percentage (0-100) of new users put in the control group."
    )
    user_activation_window: int = Field(description="Days (3-30) over which retention is measured.")


class AdminSettings(ApiModel):
    branding: Branding
    experimentation: Experimentation
    aggregation_period: AggregationPeriod
    default_timezone: str = Field(
        description="IANA time zone for users without `tz` (streaks, summaries, leaderboards)."
    )
    week_starts_on: int = Field(description="First day of the week: 0 = Sunday … 6 = Saturday.")


class BrandingPatch(ApiModel):
    app_name: str | None = Field(None, min_length=1)
    app_url: Uri | None = None
    brand_color: Annotated[str, AfterValidator(_color)] | None = None
    font: Font | None = None
    logo: Image | None = None
    app_icon: Image | None = None


class ExperimentationPatch(ApiModel):
    control_ratio: StrictInt | None = Field(None, ge=0, le=100)
    user_activation_window: StrictInt | None = Field(None, ge=3, le=30)


class UpdateAdminSettingsRequest(RequestModel):
    branding: BrandingPatch | None = None
    experimentation: ExperimentationPatch | None = None
    aggregation_period: AggregationPeriod | None = None
    default_timezone: str | None = None
    week_starts_on: StrictInt | None = Field(None, ge=0, le=6)


class AdminEnvironment(ApiModel):
    name: str
    key: str
    priority: int


class AdminTenant(ApiModel):
    id: str
    customer_id: str
    name: str
    status: Literal["active", "archived"]
    created: Timestamp
    updated: Timestamp


class CreateTenantRequestItem(RequestModel):
    customer_id: str = Field(min_length=1, max_length=255)
    name: str = Field(min_length=1, max_length=255)


class UpdateTenantRequestItem(RequestModel):
    id: str
    customer_id: str | None = Field(None, min_length=1, max_length=255)
    name: str | None = Field(None, min_length=1, max_length=255)


class CreateTenantsResponse(ApiModel):
    created: list[AdminTenant]
    issues: list[AdminIssue]


class UpdateTenantsResponse(ApiModel):
    updated: list[AdminTenant]
    issues: list[AdminIssue]


class DeleteResponse(ApiModel):
    deleted: list[DeletedResource]
    issues: list[AdminIssue]


class CreateApplicationKeyRequestItem(RequestModel):
    user_id: str = Field(min_length=1, max_length=255)


class CreatedApplicationKey(ApiModel):
    id: str
    user_id: str
    key: str
    prefix: str


class CreateApplicationKeysResponse(ApiModel):
    created: list[CreatedApplicationKey]
    issues: list[AdminIssue]


class AdminApiKey(ApiModel):
    id: str
    name: str
    prefix: str
    status: Literal["active", "revoked"]
    created: Timestamp
    last_used: Timestamp | None
    key: str | None = omit_none(
        description="The full key; returned only when it is created or rotated."
    )


class CreateApiKeyRequestItem(RequestModel):
    name: str = Field(min_length=1, max_length=255)


class UpdateApiKeyRequestItem(RequestModel):
    id: str
    name: str | None = Field(None, min_length=1, max_length=255)
    status: Literal["active", "revoked"] | None = None


class CreateApiKeysResponse(ApiModel):
    created: list[AdminApiKey]
    issues: list[AdminIssue]


class UpdateApiKeysResponse(ApiModel):
    updated: list[AdminApiKey]
    issues: list[AdminIssue]


class TestClock(ApiModel):
    now: Timestamp


class SetTestClockRequest(RequestModel):
    now: dt.datetime


class TestClockAdvanced(ApiModel):
    now: Timestamp
    jobs_run: int
