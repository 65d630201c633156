"""Features that act on streak extensions (the points feature's streak triggers) are called
once per start or extension, in the event's transaction, with the new length."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.ext.asyncio import AsyncConnection

from plaudit.platform.config import ScopeConfig
from plaudit.streaks import service
from plaudit.users.rules import UserState
from tests.support.api import TestEnvironment


async def test_extension_hooks_see_each_start_and_extension_once(env: TestEnvironment) -> None:
    seen: list[tuple[str, int]] = []

    async def hook(
        conn: AsyncConnection, config: ScopeConfig, user: UserState, length: int, now: dt.datetime
    ) -> None:
        if config.scope_id == env.scope_id:
            seen.append((user.id, length))

    await env.metric("words")
    answer = await env.admin.patch(
        "/streaks/settings", json={"metrics": [{"key": "words", "threshold": 2}]}
    )
    assert answer.status_code == 200, answer.json()
    service.EXTENSION_HOOKS.append(hook)
    try:
        for value in (1, 1, 5):  # the second event meets the threshold; the third is the same day
            assert (await env.event("words", "hooked", value)).status_code == 201
    finally:
        service.EXTENSION_HOOKS.remove(hook)
    assert seen == [("hooked", 1)]
