from __future__ import annotations

from tests.support.api import TestEnvironment


async def test_an_event_counts(env: TestEnvironment) -> None:
    await env.metric("lessons")
    response = await env.event("lessons", "u1", 3)
    assert response.status_code == 201
    assert response.json()["total"] == 3
