"""The pure webhook rules: signatures, destinations, retries, disabling, throttling."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import ipaddress

import pytest
from standardwebhooks import Webhook

from plaudit.webhooks import rules

SECRET = rules.secret_from_bytes(bytes(range(32)))
NOW = dt.datetime(2026, 3, 1, 12, 0, 30, tzinfo=dt.UTC)


def test_a_secret_is_whsec_and_the_base64_of_32_bytes() -> None:
    assert SECRET.startswith("whsec_")
    assert base64.b64decode(SECRET.removeprefix("whsec_")) == bytes(range(32))


def test_both_signatures_match_a_hand_computed_hmac_and_standardwebhooks() -> None:
    body = b'{"type":"achievement.completed","user":{"id":"ada"}}'
    headers = rules.signed_headers(SECRET, "msg_1", NOW, body)
    trophy = base64.b64encode(hmac.new(SECRET.encode(), body, hashlib.sha256).digest()).decode()
    assert headers["X-Trophy-Signature"] == trophy
    assert headers["webhook-id"] == "msg_1"
    assert headers["webhook-timestamp"] == str(int(NOW.timestamp()))
    key = base64.b64decode(SECRET.removeprefix("whsec_"))
    signed = b"msg_1." + headers["webhook-timestamp"].encode() + b"." + body
    standard = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    assert headers["webhook-signature"] == "v1," + standard
    assert Webhook(SECRET).sign("msg_1", NOW, body.decode()) == headers["webhook-signature"]


def test_a_tampered_body_fails_standardwebhooks_verification() -> None:
    body = b'{"type":"test"}'
    now = dt.datetime.now(dt.UTC)
    headers = rules.signed_headers(SECRET, "msg_2", now, body)
    assert Webhook(SECRET).verify(body, headers) == {"type": "test"}
    with pytest.raises(Exception, match="No matching signature"):
        Webhook(SECRET).verify(b'{"type":"tset"}', headers)


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("https://hooks.example.com/x", None),
        ("ftp://hooks.example.com/x", "http"),
        ("https:///nohost", "host"),
        ("https://user:pw@example.com/", "credentials"),
        ("http://example.com:99999/", "valid URL"),
    ],
)
def test_url_shape(url: str, problem: str | None) -> None:
    found = rules.url_problem(url)
    assert (found is None) if problem is None else (problem in (found or ""))


@pytest.mark.parametrize(
    ("host", "allowed_when_private_allowed", "allowed_otherwise"),
    [
        ("hooks.example.com", True, True),  # names are checked when they are called
        ("93.184.216.34", True, True),
        ("127.0.0.1", True, False),
        ("localhost", True, False),
        ("10.1.2.3", True, False),
        ("192.168.0.10", True, False),
        ("[::1]", True, False),
        ("169.254.169.254", False, False),  # cloud metadata: never
        ("[fe80::1]", False, False),
        ("[::ffff:169.254.169.254]", False, False),
        ("0.0.0.0", False, False),
    ],
)
def test_destinations(
    host: str, allowed_when_private_allowed: bool, allowed_otherwise: bool
) -> None:
    assert (rules.host_problem(host, True) is None) is allowed_when_private_allowed
    assert (rules.host_problem(host, False) is None) is allowed_otherwise


def test_link_local_addresses_are_refused_even_when_private_ones_are_allowed() -> None:
    problem = rules.address_problem(ipaddress.ip_address("169.254.1.1"), True)
    assert problem is not None
    assert "never" in problem


def test_destinations_are_keyed_by_scheme_host_and_port() -> None:
    assert rules.destination_key("https://A.example.com/x") == "https://a.example.com:443"
    assert rules.destination_key("http://a.example.com:8080/y") == "http://a.example.com:8080"


def test_the_retry_schedule_with_jitter_and_its_end() -> None:
    schedule = [60, 300, 1800]
    assert rules.retry_delay(1, schedule, 0.5) == dt.timedelta(seconds=60)
    assert rules.retry_delay(1, schedule, 0.0) == dt.timedelta(seconds=54)
    assert rules.retry_delay(2, schedule, 0.999999) < dt.timedelta(seconds=330)
    low, high = rules.jitter_bounds(3, schedule)
    for rand in (0.0, 0.25, 0.5, 0.75, 0.999):
        delay = rules.retry_delay(3, schedule, rand)
        assert delay is not None
        assert low <= delay <= high
    assert rules.retry_delay(4, schedule, 0.5) is None  # 4 attempts failed: give up


def test_retry_after_is_honoured_but_never_shortens_the_wait() -> None:
    later = rules.parse_retry_after("600", NOW)
    assert later == dt.timedelta(seconds=600)
    assert rules.retry_delay(1, [60], 0.5, later) == dt.timedelta(seconds=600)
    sooner = rules.parse_retry_after("5", NOW)
    assert rules.retry_delay(1, [60], 0.5, sooner) == dt.timedelta(seconds=60)
    http_date = "Sun, 01 Mar 2026 12:10:30 GMT"
    assert rules.parse_retry_after(http_date, NOW) == dt.timedelta(minutes=10)
    assert rules.parse_retry_after("soon", NOW) is None
    assert rules.parse_retry_after("999999999", NOW) == rules.MAX_RETRY_AFTER


def test_a_subscription_is_disabled_after_failing_for_24_hours() -> None:
    assert not rules.should_disable(None, NOW)
    assert not rules.should_disable(NOW - dt.timedelta(hours=23, minutes=59), NOW)
    assert rules.should_disable(NOW - dt.timedelta(hours=24), NOW)
    reason = rules.disabled_reason(NOW, "HTTP 500")
    assert "24 hours" in reason
    assert "HTTP 500" in reason


def test_throttle_keys_name_the_type_and_the_subject() -> None:
    points = {"user": {"id": "ada"}, "points": {"id": "xp"}}
    assert rules.throttle_key("points.changed", points) == "points.changed|ada|xp"
    board = {"leaderboard": {"id": "weekly"}}
    assert rules.throttle_key("leaderboard.changed", board) == "leaderboard.changed|weekly"
    assert rules.throttle_key("achievement.completed", points) is None


def test_leading_edge_then_one_coalesced_event_per_window() -> None:
    first = rules.throttle(None, NOW)
    assert first.send_now
    assert first.window_end == NOW + rules.THROTTLE_WINDOW
    inside = rules.throttle(first.window_end, NOW + dt.timedelta(minutes=14))
    assert not inside.send_now
    assert inside.window_end == first.window_end
    after = rules.throttle(first.window_end, first.window_end)
    assert after.send_now


def test_coalesced_points_changes_carry_every_award_and_the_latest_total() -> None:
    held = {"type": "points.changed", "points": {"total": 10, "added": 10, "awards": [{"id": 1}]}}
    latest = {"type": "points.changed", "points": {"total": 15, "added": 5, "awards": [{"id": 2}]}}
    merged = rules.coalesce("points.changed", held, latest)
    assert merged["points"] == {"total": 15, "added": 15, "awards": [{"id": 1}, {"id": 2}]}
    board = {"leaderboard": {"id": "b", "rankings": [1]}}
    assert rules.coalesce("leaderboard.changed", {"leaderboard": {}}, board) is board


def test_the_event_types_are_exactly_the_sdk_webhook_payload_types() -> None:
    import trophy.types as sdk

    models = [
        getattr(sdk, n) for n in dir(sdk) if n.startswith("Webhooks") and n.endswith("Payload")
    ]
    types = {m.model_fields["type"].default for m in models if "type" in m.model_fields}
    assert types == set(rules.EVENT_TYPES)


def test_the_interest_of_a_scope_is_the_union_of_its_active_subscriptions() -> None:
    assert rules.Interest.of([]) == rules.NO_INTEREST
    assert not any(rules.NO_INTEREST.wants(kind) for kind in rules.EVENT_TYPES)
    some = rules.Interest.of([["points.changed"], ["streak.lost", "points.changed"]])
    assert some.types == frozenset({"points.changed", "streak.lost"})
    assert [k for k in rules.EVENT_TYPES if some.wants(k)] == ["streak.lost", "points.changed"]
    for empty in ([], None):  # empty events: every type, whatever the others want
        every = rules.Interest.of([["streak.lost"], empty])
        assert every == rules.ALL_TYPES
        assert all(every.wants(kind) for kind in rules.EVENT_TYPES)
    # The same rule as the fan-out's.
    for events in ([], ["points.changed"], ["streak.lost", "leaderboard.changed"]):
        interest = rules.Interest.of([events])
        for kind in rules.EVENT_TYPES:
            assert interest.wants(kind) == rules.matches(events, kind)
