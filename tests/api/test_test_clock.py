"""The test clock, and everything that depends on when things happen (event summaries).

One clock serves the whole test database and only moves forward, so each test works in
a year of its own, later than the previous test's (see `move_clock`).
"""

from __future__ import annotations

import datetime as dt

import httpx

from tests.conftest import Stack
from tests.support.api import TestEnvironment


async def move_clock(env: TestEnvironment, when: str) -> httpx.Response:
    current = (await env.admin.get("/test-clock")).json()["now"]
    target = dt.datetime.fromisoformat(when.replace("Z", "+00:00"))
    assert dt.datetime.fromisoformat(current.replace("Z", "+00:00")) <= target, (
        f"the test clock is already at {current}; give this test a later year"
    )
    response = await env.admin.put("/test-clock", json={"now": when})
    assert response.status_code == 200, response.json()
    return response


async def test_the_clock_is_frozen_and_moves_forward_only(clock_env: TestEnvironment) -> None:
    before = (await clock_env.admin.get("/test-clock")).json()["now"]
    assert (await clock_env.admin.get("/test-clock")).json()["now"] == before
    moved = await move_clock(clock_env, "2089-06-01T00:00:00Z")
    assert moved.json()["now"] == "2089-06-01T00:00:00Z"
    assert isinstance(moved.json()["jobsRun"], int)
    backwards = await clock_env.admin.put("/test-clock", json={"now": "2089-05-31T23:59:59Z"})
    assert backwards.status_code == 422
    created = await clock_env.app.put("/users/ada", json={})
    assert created.json()["created"] == "2089-06-01T00:00:00Z"


async def test_event_summaries_bucket_by_local_day_week_and_month(
    clock_env: TestEnvironment,
) -> None:
    env = clock_env
    await env.metric("lessons")
    user = {"id": "ny", "tz": "America/New_York"}
    for when, value in [
        ("2089-12-31T12:00:00Z", 1),  # before the range
        ("2090-01-10T04:59:00Z", 2),  # 23:59 on 9 January in New York (EST)
        ("2090-01-10T05:00:00Z", 3),  # 00:00 on 10 January
        ("2090-07-10T03:59:00Z", 5),  # 23:59 on Sunday 9 July (EDT)
        ("2090-07-10T04:00:00Z", 7),  # 00:00 on Monday 10 July
    ]:
        await move_clock(env, when)
        assert (await env.event("lessons", user, value)).status_code == 201

    async def summary(aggregation: str, start: str, end: str) -> list[dict[str, object]]:
        response = await env.app.get(
            "/users/ny/metrics/lessons/event-summary",
            params={"aggregation": aggregation, "startDate": start, "endDate": end},
        )
        assert response.status_code == 200, response.json()
        return response.json()  # type: ignore[no-any-return]

    assert await summary("daily", "2090-01-09", "2090-01-11") == [
        {"date": "2090-01-09", "total": 3, "change": 2},
        {"date": "2090-01-10", "total": 6, "change": 3},
        {"date": "2090-01-11", "total": 6, "change": 0},
    ]
    assert await summary("weekly", "2090-07-05", "2090-07-12") == [
        {"date": "2090-07-02", "total": 6, "change": 0},
        {"date": "2090-07-09", "total": 18, "change": 12},
    ]
    assert await summary("monthly", "2090-01-15", "2090-03-01") == [
        {"date": "2090-01-01", "total": 6, "change": 5},
        {"date": "2090-02-01", "total": 6, "change": 0},
        {"date": "2090-03-01", "total": 6, "change": 0},
    ]
    await env.admin.patch("/settings", json={"weekStartsOn": 1})
    assert await summary("weekly", "2090-07-05", "2090-07-12") == [
        {"date": "2090-07-03", "total": 11, "change": 5},
        {"date": "2090-07-10", "total": 18, "change": 7},
    ]


async def test_event_summary_ranges_are_checked(clock_env: TestEnvironment) -> None:
    env = clock_env
    await env.metric("lessons")
    await env.event("lessons", "ada", 1)

    async def status(**params: str) -> int:
        query = {
            "aggregation": "daily",
            "startDate": "2090-01-01",
            "endDate": "2090-01-02",
            **params,
        }
        response = await env.app.get("/users/ada/metrics/lessons/event-summary", params=query)
        return response.status_code

    assert await status() == 200
    assert await status(startDate="2090-01-02", endDate="2090-01-02") == 200
    assert await status(startDate="2090-01-03") == 422
    assert await status(endDate="2091-02-06") == 422
    assert await status(aggregation="hourly") == 422
    assert await status(startDate="01/01/2090") == 422
    missing = await env.app.get(
        "/users/ada/metrics/lessons/event-summary", params={"aggregation": "daily"}
    )
    assert missing.status_code == 422
    assert (
        await env.app.get(
            "/users/ada/metrics/nope/event-summary",
            params={"aggregation": "daily", "startDate": "2090-01-01", "endDate": "2090-01-01"},
        )
    ).status_code == 404


async def test_the_test_clock_does_not_exist_on_a_normal_server(
    env: TestEnvironment, stack: Stack
) -> None:
    response = await env.admin.get("/test-clock")
    assert response.status_code == 404
