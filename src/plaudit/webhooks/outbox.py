"""Writing webhook events into the outbox, inside the caller's transaction."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from plaudit.core.ids import new_id
from plaudit.webhooks.tables import webhook_events


@dataclass(frozen=True, slots=True)
class WebhookEvent:
    type: str
    payload: dict[str, Any]  # JSON-ready, without `type` (added here)


async def emit(
    conn: AsyncConnection, scope_id: int, events: Sequence[WebhookEvent], now: dt.datetime
) -> None:
    if not events:
        return
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
    ]
    await conn.execute(insert(webhook_events), rows)
