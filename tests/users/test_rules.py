"""How a client's user object changes the stored user."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from typing import Any

import pytest

from plaudit.core.errors import Unprocessable
from plaudit.users.rules import UserState, apply_patch, check_patch, new_user, parse_sign_up_date
from plaudit.users.schemas import UpdatedUser

NOW = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)
LATER = NOW + dt.timedelta(minutes=5)


def patch(**fields: Any) -> UpdatedUser:
    return UpdatedUser.model_validate(fields)


def stored(**fields: Any) -> UserState:
    return replace(new_user("u1", NOW, control=False), **fields)


def test_absent_fields_stay_and_null_clears() -> None:
    user = stored(name="Ada", email="ada@example.com", tz="Europe/London")
    after = apply_patch(user, patch(name=None), LATER, "UTC")
    assert after.name is None
    assert after.email == "ada@example.com"
    assert after.tz == "Europe/London"


def test_attributes_merge_by_key_and_empty_string_removes() -> None:
    user = stored(attributes={"plan": "pro", "team": "a"})
    after = apply_patch(user, patch(attributes={"team": "", "role": "dev"}), LATER, "UTC")
    assert after.attributes == {"plan": "pro", "role": "dev"}


def test_device_tokens_replace_deduplicate_and_clear() -> None:
    user = stored(device_tokens=("a",))
    assert apply_patch(user, patch(deviceTokens=["b", "c", "b"]), LATER, "UTC").device_tokens == (
        "b",
        "c",
    )
    assert apply_patch(user, patch(deviceTokens=[]), LATER, "UTC").device_tokens is None
    assert apply_patch(user, patch(deviceTokens=None), LATER, "UTC").device_tokens is None
    assert apply_patch(user, patch(), LATER, "UTC").device_tokens == ("a",)


def test_unsubscribing_drops_the_email_even_one_sent_together() -> None:
    user = stored(email="ada@example.com")
    after = apply_patch(user, patch(subscribeToEmails=False, email="new@example.com"), LATER, "UTC")
    assert after.subscribe_to_emails is False
    assert after.email is None


def test_subscribing_needs_an_email() -> None:
    with pytest.raises(Unprocessable, match="subscribeToEmails"):
        apply_patch(stored(), patch(subscribeToEmails=True), LATER, "UTC")
    after = apply_patch(stored(), patch(subscribeToEmails=True, email="a@b.co"), LATER, "UTC")
    assert after.email == "a@b.co"


def test_the_old_spelling_subscribed_to_emails_is_accepted() -> None:
    assert patch(subscribedToEmails=False).subscribe_to_emails is False


def test_updated_moves_only_when_something_changed() -> None:
    user = stored(name="Ada")
    assert apply_patch(user, patch(name="Ada"), LATER, "UTC").updated == NOW
    assert apply_patch(user, patch(name="Grace"), LATER, "UTC").updated == LATER


def test_sign_up_date_may_not_be_after_today_in_the_users_zone() -> None:
    # 12:00 UTC on 1 March is already 2 March in Kiritimati (UTC+14), not yet in UTC.
    assert apply_patch(
        stored(tz="Pacific/Kiritimati"), patch(signUpDate="2026-03-02"), NOW, "UTC"
    ).sign_up_date == dt.date(2026, 3, 2)
    with pytest.raises(Unprocessable, match="after today"):
        apply_patch(stored(), patch(signUpDate="2026-03-02"), NOW, "UTC")


def test_sign_up_date_accepts_a_date_time_as_its_utc_day() -> None:
    assert parse_sign_up_date("2024-02-29T23:30:00-05:00") == dt.date(2024, 3, 1)
    assert parse_sign_up_date("2024-02-29") == dt.date(2024, 2, 29)
    with pytest.raises(Unprocessable):
        parse_sign_up_date("29/02/2024")


def test_time_zones_and_attribute_keys_are_checked_before_storage() -> None:
    with pytest.raises(Unprocessable, match="IANA"):
        check_patch(patch(tz="Nowhere/Land"), set())
    with pytest.raises(Unprocessable, match=r"^Invalid attribute keys: colour, size"):
        check_patch(patch(attributes={"size": "L", "plan": "pro", "colour": "red"}), {"plan"})
    check_patch(patch(tz="Asia/Kolkata", attributes={"plan": "pro"}), {"plan"})
