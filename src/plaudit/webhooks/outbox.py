"""Writing webhook events into the outbox, inside the caller's transaction.

Only events some active subscription wants are stored: the caller passes the scope's
`Interest` (`ScopeConfig.webhooks`), and callers that build costly payloads ask
`wanted` first so as not to build events that would be dropped here. A subscription
therefore receives the events emitted after the server has seen it (see
docs/webhooks.md, "Which events are stored").
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from plaudit.core.ids import new_id
from plaudit.webhooks.rules import Interest
from plaudit.webhooks.tables import webhook_events


@dataclass(frozen=True, slots=True)
class WebhookEvent:
    type: str
    payload: dict[str, Any]  # JSON-ready, without `type` (added here)


def wanted(interest: Interest | None, event_type: str) -> bool:
    """Whether an event of `event_type` is stored; None = interest unknown: store it."""
    return interest is None or interest.wants(event_type)


async def emit(
    conn: AsyncConnection,
    scope_id: int,
    events: Sequence[WebhookEvent],
    now: dt.datetime,
    *,
    interest: Interest | None,
) -> None:
    """Write the `events` some active subscription wants (all of them when `interest` is
    None: extra rows are harmless, the fan-out matches nobody and they are purged)."""
    rows = [
        {
            "id": new_id(),
            "scope_id": scope_id,
            "type": event.type,
            "payload": {"type": event.type, **event.payload},
            "created": now,
            "dispatched": None,
        }
        for event in events
        if wanted(interest, event.type)
    ]
    if rows:
        await conn.execute(insert(webhook_events), rows)
