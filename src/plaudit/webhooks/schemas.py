"""Wire models of `/admin/v1/webhooks` (Plaudit's extension, spec/extensions.md)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator

from plaudit.core.schemas import AdminIssue, ApiModel, RequestModel, Timestamp, omit_none
from plaudit.webhooks import rules

WebhookStatus = Literal["active", "inactive", "disabled"]
DeliveryStatus = Literal["pending", "succeeded", "failed"]


def _known_types(value: list[str] | None) -> list[str] | None:
    if value is None:
        return None
    unknown = [item for item in value if item not in rules.EVENT_TYPES]
    if unknown:
        raise ValueError(f"unknown webhook event type {unknown[0]!r}")
    return list(dict.fromkeys(value))


def _url(value: str | None) -> str | None:
    if value is None:
        return None
    problem = rules.url_problem(value)
    if problem is not None:
        raise ValueError(problem)
    return value


class Webhook(ApiModel):
    id: str
    name: str | None
    url: str
    events: list[str] = Field(description="Event types delivered; empty = every type.")
    status: WebhookStatus
    disabled_reason: str | None = Field(
        description="Why the server disabled this webhook (null unless status is disabled)."
    )
    secret: str | None = omit_none(
        description="The signing secret: present only in the create and rotate responses."
    )
    created: Timestamp
    updated: Timestamp


class CreateWebhookRequestItem(RequestModel):
    name: str | None = Field(None, max_length=255)
    url: str = Field(max_length=2048)
    events: list[str] = Field(default_factory=list, max_length=len(rules.EVENT_TYPES))
    status: Literal["active", "inactive"] = "active"

    _check_url = field_validator("url")(_url)
    _check_events = field_validator("events")(_known_types)


class UpdateWebhookRequestItem(RequestModel):
    id: str
    name: str | None = Field(None, max_length=255)
    url: str | None = Field(None, max_length=2048)
    events: list[str] | None = Field(None, max_length=len(rules.EVENT_TYPES))
    status: Literal["active", "inactive"] | None = Field(
        None, description="`active` also re-enables a webhook the server disabled."
    )

    _check_url = field_validator("url")(_url)
    _check_events = field_validator("events")(_known_types)


class CreateWebhooksResponse(ApiModel):
    created: list[Webhook]
    issues: list[AdminIssue]


class UpdateWebhooksResponse(ApiModel):
    updated: list[Webhook]
    issues: list[AdminIssue]


class RotatedSecret(ApiModel):
    id: str
    secret: str


class Delivery(ApiModel):
    id: str
    event_id: str = Field(description="The `webhook-id` header: the same on every attempt.")
    webhook_id: str
    type: str
    status: DeliveryStatus
    attempts: int
    next_attempt_at: Timestamp | None
    last_status_code: int | None
    last_error: str | None
    duration_ms: int | None
    created: Timestamp
    payload: dict[str, Any]


class DeliveryAttempt(ApiModel):
    attempt: int
    started: Timestamp
    status_code: int | None
    error: str | None
    duration_ms: int


class DeliveryWithAttempts(Delivery):
    attempt_log: list[DeliveryAttempt] = Field(description="Every attempt, oldest first.")
