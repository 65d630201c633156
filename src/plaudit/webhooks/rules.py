"""Pure webhook rules: signatures, destinations, the retry schedule, disabling, throttling.

No I/O and no clock here: every time decision takes `now`, every random choice takes the
random number, so each rule is tested on its own.
"""

from __future__ import annotations

import base64
import datetime as dt
import email.utils
import hashlib
import hmac
import ipaddress
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from standardwebhooks import Webhook

SECRET_PREFIX = "whsec_"
TEST_EVENT = "test"

# The 18 types of webhooks.md §4 (SDK 1.27.0), in its order.
EVENT_TYPES = (
    "achievement.completed",
    "streak.started",
    "streak.extended",
    "streak.lost",
    "streak.freeze_consumed",
    "streak.freeze_earned",
    "points.changed",
    "points.level_changed",
    "points.boost_started",
    "points.boost_finished",
    "leaderboard.started",
    "leaderboard.changed",
    "leaderboard.finished",
    "leaderboard.rank_changed",
    "emails.recap_due",
    "emails.reactivation_due",
    "emails.streak_reminder_due",
    "emails.achievement_due",
)

DISABLE_AFTER = dt.timedelta(hours=24)
JITTER = 0.10  # ± 10 % of each step of the retry schedule
MAX_RETRY_AFTER = dt.timedelta(days=1)
THROTTLE_WINDOW = dt.timedelta(minutes=15)


# --- secrets and signatures ------------------------------------------------------------


def secret_from_bytes(material: bytes) -> str:
    """A subscription secret: `whsec_` + base64 of (32) random bytes."""
    return SECRET_PREFIX + base64.b64encode(material).decode()


def trophy_signature(secret: str, body: bytes) -> str:
    """`X-Trophy-Signature`: base64(HMAC-SHA256(key = the whole secret, message = the body))."""
    digest = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def standard_signature(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """`webhook-signature` of the Standard Webhooks specification (`v1,<base64>`)."""
    moment = dt.datetime.fromtimestamp(timestamp, dt.UTC)
    return Webhook(secret).sign(message_id, moment, body.decode())


def signed_headers(secret: str, message_id: str, now: dt.datetime, body: bytes) -> dict[str, str]:
    """Every header of one delivery attempt; `message_id` is the same on every retry."""
    timestamp = math.floor(now.timestamp())
    return {
        "Content-Type": "application/json",
        "User-Agent": "Plaudit-Webhooks",
        "X-Trophy-Signature": trophy_signature(secret, body),
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": standard_signature(secret, message_id, timestamp, body),
    }


# --- destinations ----------------------------------------------------------------------


def url_problem(url: str) -> str | None:
    """Why `url` cannot be a destination, judged on its text alone (None when it can)."""
    if len(url) > 2048:
        return "url must be at most 2048 characters"
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return f"url {url!r} is not a valid URL"
    if parts.scheme not in ("http", "https"):
        return "url must start with http:// or https://"
    if not parts.hostname:
        return "url must name a host"
    if parts.username is not None or parts.password is not None:
        return "url must not carry credentials"
    if port == 0:
        return "url must not use port 0"
    return None


def host_problem(host: str, allow_private: bool) -> str | None:
    """Why a destination host cannot be called, judged on its name or literal address."""
    name = host.strip("[]").rstrip(".").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return None if allow_private else f"{host} is a loopback address"
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return None  # a name: its addresses are checked when it is called
    return address_problem(address, allow_private)


def address_problem(
    address: ipaddress.IPv4Address | ipaddress.IPv6Address, allow_private: bool
) -> str | None:
    """Link-local (cloud metadata) is never called; private ones only when allowed."""
    mapped = getattr(address, "ipv4_mapped", None)
    if mapped is not None:
        address = mapped
    if address.is_link_local:
        return f"{address} is a link-local address (cloud metadata), which is never called"
    if address.is_multicast or address.is_unspecified:
        return f"{address} is not a unicast address"
    if allow_private:
        return None
    if address.is_loopback:
        return f"{address} is a loopback address"
    if address.is_private or address.is_reserved or not address.is_global:
        return f"{address} is a private address"
    return None


def destination_key(url: str) -> str:
    """Deliveries are limited per destination: scheme, host and port."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return f"{parts.scheme}://{(parts.hostname or '').lower()}:{port}"


def matches(events: Sequence[str], event_type: str) -> bool:
    """Whether a subscription to `events` (empty = all) receives `event_type`."""
    return not events or event_type in events


@dataclass(frozen=True, slots=True)
class Interest:
    """The event types the active subscriptions of a scope want, as `ScopeConfig.webhooks`.

    The outbox stores an event only when some active subscription wants its type: events
    nobody subscribes to are not stored at all (and their payloads need not be built).
    """

    all: bool = False  # some active subscription has empty `events`: every type
    types: frozenset[str] = frozenset()

    @classmethod
    def of(cls, subscriptions: Iterable[Sequence[str] | None]) -> Interest:
        """The interest of active subscriptions with these `events` lists (empty = all)."""
        types: set[str] = set()
        for events in subscriptions:
            if not events:
                return cls(all=True)
            types.update(events)
        return cls(types=frozenset(types))

    def wants(self, event_type: str) -> bool:
        return self.all or event_type in self.types


NO_INTEREST = Interest()
ALL_TYPES = Interest(all=True)


# --- attempts, retries, disabling --------------------------------------------------------


def succeeded(status_code: int | None) -> bool:
    return status_code is not None and 200 <= status_code < 300


def parse_retry_after(value: str | None, now: dt.datetime) -> dt.timedelta | None:
    """`Retry-After` in seconds or as an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    text = value.strip()
    if text.isdigit():
        wait = dt.timedelta(seconds=int(text))
    else:
        try:
            when = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=dt.UTC)
        wait = when - now
    return min(max(wait, dt.timedelta(0)), MAX_RETRY_AFTER)


def retry_delay(
    attempts: int,
    schedule: Sequence[int],
    rand: float,
    retry_after: dt.timedelta | None = None,
) -> dt.timedelta | None:
    """The wait before the next attempt after `attempts` failed ones; None = give up.

    `rand` is uniform in [0, 1): the step is spread by ± JITTER. A receiver's
    `Retry-After` is honoured: never retry sooner than it asked.
    """
    if attempts < 1 or attempts > len(schedule):
        return None
    step = schedule[attempts - 1] * (1 + JITTER * (2 * rand - 1))
    delay = dt.timedelta(seconds=step)
    if retry_after is not None and retry_after > delay:
        delay = retry_after
    return delay


def jitter_bounds(attempts: int, schedule: Sequence[int]) -> tuple[dt.timedelta, dt.timedelta]:
    step = schedule[attempts - 1]
    return (
        dt.timedelta(seconds=step * (1 - JITTER)),
        dt.timedelta(seconds=step * (1 + JITTER)),
    )


def should_disable(failing_since: dt.datetime | None, now: dt.datetime) -> bool:
    """A subscription whose every attempt has failed for 24 hours is disabled."""
    return failing_since is not None and now - failing_since >= DISABLE_AFTER


def disabled_reason(now: dt.datetime, last_error: str) -> str:
    stamp = now.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return (
        f"Disabled at {stamp}: every delivery attempt failed for 24 hours "
        f"(last: {last_error}). Set status to active to resume."
    )


def attempt_error(status_code: int | None, error: str | None) -> str:
    if error:
        return error
    return f"HTTP {status_code}"


# --- throttling ------------------------------------------------------------------------


def _get(payload: dict[str, Any], *path: str) -> Any:
    value: Any = payload
    for key in path:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


# The subject of each throttled type: its key fields in the payload (webhooks.md §5).
THROTTLED: dict[str, tuple[tuple[str, ...], ...]] = {
    "points.changed": (("user", "id"), ("points", "id")),
    "leaderboard.changed": (("leaderboard", "id"),),
    "leaderboard.rank_changed": (("user", "id"), ("leaderboard", "id")),
}


def throttle_key(event_type: str, payload: dict[str, Any]) -> str | None:
    """`type` + subject for throttled types (None: sent at once, like every other type)."""
    fields = THROTTLED.get(event_type)
    if fields is None:
        return None
    parts = [str(_get(payload, *path)) for path in fields]
    return "|".join([event_type, *parts])[:255]


@dataclass(frozen=True, slots=True)
class ThrottleDecision:
    send_now: bool
    window_end: dt.datetime  # the end of the window the key is in after this event


def throttle(window_end: dt.datetime | None, now: dt.datetime) -> ThrottleDecision:
    """Leading edge: the first change in a closed window goes at once and opens a window;
    later ones in the window are held and coalesced until it closes."""
    if window_end is None or window_end <= now:
        return ThrottleDecision(True, now + THROTTLE_WINDOW)
    return ThrottleDecision(False, window_end)


def coalesce(
    event_type: str, held: dict[str, Any] | None, latest: dict[str, Any]
) -> dict[str, Any]:
    """The payload to send for a window: the latest state; for `points.changed`, every
    award since the last delivered event, and `added` their net sum."""
    if held is None or event_type != "points.changed":
        return latest
    earlier, newer = held.get("points"), latest.get("points")
    if not isinstance(earlier, dict) or not isinstance(newer, dict):
        return latest
    awards = [*(earlier.get("awards") or []), *(newer.get("awards") or [])]
    added = (earlier.get("added") or 0) + (newer.get("added") or 0)
    return {**latest, "points": {**newer, "awards": awards, "added": added}}
