"""How a user object sent by the client changes a stored user. Pure functions.

Absent fields stay as they are; `null` clears name, email, tz, deviceTokens and signUpDate;
attributes merge by key and `""` removes one; `subscribeToEmails: false` drops the email
(even one sent in the same request); `control` is drawn once, at creation.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from plaudit.core.errors import Unprocessable
from plaudit.core.periods import is_valid_timezone, local_date, zone
from plaudit.users.schemas import UpdatedUser


@dataclass(frozen=True, slots=True)
class UserState:
    id: str
    name: str | None
    email: str | None
    tz: str | None
    device_tokens: tuple[str, ...] | None
    subscribe_to_emails: bool
    attributes: dict[str, str]
    control: bool
    sign_up_date: dt.date | None
    created: dt.datetime
    updated: dt.datetime
    pk: int | None = field(default=None, compare=False)

    def profile(self) -> tuple[object, ...]:
        """Everything a client can change (for deciding whether anything did)."""
        return (
            self.name,
            self.email,
            self.tz,
            self.device_tokens,
            self.subscribe_to_emails,
            tuple(sorted(self.attributes.items())),
            self.sign_up_date,
        )


def new_user(user_id: str, now: dt.datetime, *, control: bool) -> UserState:
    return UserState(
        id=user_id,
        name=None,
        email=None,
        tz=None,
        device_tokens=None,
        subscribe_to_emails=True,
        attributes={},
        control=control,
        sign_up_date=None,
        created=now,
        updated=now,
    )


def parse_sign_up_date(text: str) -> dt.date:
    """`YYYY-MM-DD`, or a full ISO 8601 date-time taken as its UTC calendar day."""
    try:
        if len(text) == 10:
            return dt.date.fromisoformat(text)
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=dt.UTC)
        return moment.astimezone(dt.UTC).date()
    except (ValueError, OverflowError):
        raise Unprocessable(f"signUpDate {text!r} is not a date (YYYY-MM-DD)") from None


def check_patch(patch: UpdatedUser, user_attribute_keys: Iterable[str]) -> None:
    """Reject what no stored state can make acceptable (before touching the database)."""
    if patch.tz is not None and not is_valid_timezone(patch.tz):
        raise Unprocessable(f"tz {patch.tz!r} is not an IANA time zone (e.g. Europe/London)")
    if patch.attributes:
        declared = set(user_attribute_keys)
        unknown = sorted(key for key in patch.attributes if key not in declared)
        if unknown:
            raise Unprocessable(
                "Invalid attribute keys: "
                + ", ".join(unknown)
                + ". Declare user attributes first with POST /admin/v1/attributes."
            )
    if patch.sign_up_date is not None:
        parse_sign_up_date(patch.sign_up_date)


def apply_patch(
    state: UserState, patch: UpdatedUser, now: dt.datetime, default_tz: str
) -> UserState:
    """`state` after `patch`; `updated` moves only when the profile actually changed."""
    sent = patch.model_fields_set
    changes: dict[str, object] = {}
    for name in ("name", "email", "tz"):
        if name in sent:
            changes[name] = getattr(patch, name)
    if "device_tokens" in sent:
        tokens = tuple(dict.fromkeys(patch.device_tokens or ()))
        changes["device_tokens"] = tokens or None
    if "attributes" in sent and patch.attributes is not None:
        merged = dict(state.attributes)
        for key, value in patch.attributes.items():
            if value == "":
                merged.pop(key, None)
            else:
                merged[key] = value
        changes["attributes"] = merged
    if "sign_up_date" in sent:
        changes["sign_up_date"] = (
            parse_sign_up_date(patch.sign_up_date) if patch.sign_up_date is not None else None
        )
    subscribe = state.subscribe_to_emails
    if "subscribe_to_emails" in sent and patch.subscribe_to_emails is not None:
        subscribe = patch.subscribe_to_emails
        changes["subscribe_to_emails"] = subscribe
    result = replace(state, **changes)  # type: ignore[arg-type]
    if not subscribe:
        result = replace(result, email=None)
    elif patch.subscribe_to_emails is True and not result.email:
        raise Unprocessable(
            "subscribeToEmails is true but the user has no email: send email in the same request"
        )
    if result.sign_up_date is not None:
        today = local_date(now, zone(result.tz or default_tz))
        if result.sign_up_date > today:
            raise Unprocessable(
                f"signUpDate {result.sign_up_date.isoformat()} is after today "
                f"({today.isoformat()}) in the user's time zone"
            )
    if result.profile() != state.profile():
        result = replace(result, updated=now)
    return result
