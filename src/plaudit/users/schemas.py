"""Wire models of users and their preferences."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AliasChoices, Field, StrictStr

from plaudit.core.schemas import (
    ApiModel,
    Date,
    RequestModel,
    StrictBool,
    StrictNumber,
    Timestamp,
    omit_none,
)

UserId = Annotated[StrictStr, Field(min_length=1, max_length=255)]


class UpdatedUser(RequestModel):
    """Editable user fields; absent fields are left unchanged."""

    email: StrictStr | None = Field(None, max_length=320)
    name: StrictStr | None = Field(None, max_length=255)
    tz: StrictStr | None = Field(None, description="IANA time zone, e.g. Europe/London.")
    device_tokens: list[StrictStr] | None = Field(None, max_length=100)
    subscribe_to_emails: StrictBool | None = Field(
        None,
        validation_alias=AliasChoices(
            "subscribeToEmails", "subscribedToEmails", "subscribe_to_emails"
        ),
        serialization_alias="subscribeToEmails",
    )
    attributes: dict[str, StrictStr] | None = None
    sign_up_date: StrictStr | None = Field(
        None, description="The day the user joined your platform (YYYY-MM-DD)."
    )


class UpsertedUser(UpdatedUser):
    id: UserId


class User(ApiModel):
    id: str
    email: str | None
    name: str | None
    tz: str | None
    device_tokens: list[str] | None
    subscribe_to_emails: bool
    attributes: dict[str, str]
    control: bool
    created: Timestamp
    updated: Timestamp
    sign_up_date: Date | None


Channel = Literal["email", "push"]


class NotificationPreferences(ApiModel):
    model_config = ApiModel.model_config | {"extra": "forbid"}

    achievement_completed: list[Channel] | None = omit_none(alias="achievement_completed")
    recap: list[Channel] | None = omit_none(alias="recap")
    reactivation: list[Channel] | None = omit_none(alias="reactivation")
    streak_reminder: list[Channel] | None = omit_none(alias="streak_reminder")


class StreakMetricPreference(ApiModel):
    key: StrictStr
    threshold: StrictNumber = Field(gt=0)


class StreakPreferences(ApiModel):
    enabled: StrictBool | None = omit_none()
    evaluation_mode: Literal["AND", "OR", "ALL"] | None = omit_none()
    metrics: list[StreakMetricPreference] | None = omit_none()
    days_off: list[Annotated[int, Field(ge=0, le=6, strict=True)]] | None = omit_none(max_length=6)


class UserPreferencesResponse(ApiModel):
    notifications: NotificationPreferences
    streak: StreakPreferences | None = omit_none()


class UpdateUserPreferencesRequest(RequestModel):
    notifications: NotificationPreferences | None = None
    streak: StreakPreferences | None = None
