"""Checks features register so that a metric or attribute in use cannot be deleted.

Each check answers a sentence naming what uses the thing ("an active leaderboard
'weekly'"), or None. Features that reference metrics or attributes append theirs here.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncConnection

ReferenceCheck = Callable[[AsyncConnection, int, uuid.UUID], Awaitable[str | None]]

METRIC_REFERENCES: list[ReferenceCheck] = []
ATTRIBUTE_REFERENCES: list[ReferenceCheck] = []


async def first_reference(
    checks: list[ReferenceCheck], conn: AsyncConnection, scope_id: int, thing_id: uuid.UUID
) -> str | None:
    for check in checks:
        found = await check(conn, scope_id, thing_id)
        if found:
            return found
    return None
