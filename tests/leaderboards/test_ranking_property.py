"""Property: for random events, ties and participant limits, the service's ranks equal a plain
sort of the same values by the stated order (value descending, then who reached it first,
then user id), in the rankings, in "around me" pages and in every event response."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tests.conftest import Stack
from tests.leaderboards.support import board, clock, move_clock, patch
from tests.support.api import make_environment

USERS = ["u0", "u1", "u10", "u2", "Z", "é"]  # byte order is not insertion order


@dataclass(frozen=True)
class Step:
    user: str
    value: int
    wait: int  # seconds before the event; 0 makes ties in time


steps = st.lists(
    st.builds(
        Step,
        user=st.sampled_from(USERS),
        value=st.integers(min_value=-3, max_value=4),
        wait=st.sampled_from([0, 0, 1, 60]),
    ),
    min_size=1,
    max_size=25,
)


def reference(values: dict[str, tuple[int, dt.datetime]], limit: int) -> list[tuple[str, int]]:
    ordered = sorted(
        (item for item in values.items() if item[1][0] > 0),
        key=lambda item: (-item[1][0], item[1][1], item[0].encode()),
    )
    return [(user, value) for user, (value, _at) in ordered[:limit]]


@settings(
    max_examples=12,
    deadline=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(events=steps, limit=st.integers(min_value=1, max_value=5))
async def test_ranks_equal_a_sort_of_the_values(
    clock_stack: Stack, events: list[Step], limit: int
) -> None:
    await check_ranks(clock_stack, events, limit)


async def check_ranks(clock_stack: Stack, events: list[Step], limit: int) -> None:
    """Replay `events` on a fresh board and compare every answer with the reference."""
    env = await make_environment(clock_stack.runtime, clock_stack.http)
    now = (await clock(env)).replace(microsecond=0) + dt.timedelta(days=1)
    await move_clock(env, now.isoformat())
    metric = await env.metric("score")
    created = await board(
        env, metricId=metric["id"], maxParticipants=limit, start=now.date().isoformat()
    )
    await patch(env, id=created["id"], status="active")
    # A first read prepares the rank cache when Redis is configured (see test_redis_ranks).
    assert (await env.app.get("/leaderboards/board")).json()["rankings"] == []

    values: dict[str, tuple[int, dt.datetime]] = {}
    for step in events:
        now += dt.timedelta(seconds=step.wait)
        await move_clock(env, now.isoformat())
        before = reference(values, limit)
        answer = await env.event("score", step.user, step.value)
        assert answer.status_code == 201, answer.json()
        if step.value:
            old = values.get(step.user, (0, now))[0]
            values[step.user] = (old + step.value, now)
        after = reference(values, limit)
        shown = answer.json()["leaderboards"]
        if not step.value:
            assert shown == {}
            continue
        expected_rank = next((i + 1 for i, (u, _v) in enumerate(after) if u == step.user), None)
        expected_previous = next(
            (i + 1 for i, (u, _v) in enumerate(before) if u == step.user), None
        )
        expected_threshold = after[limit - 1][1] if len(after) == limit else 0
        got = shown["board"]
        assert (got["rank"], got["previousRank"], got["threshold"]) == (
            expected_rank,
            expected_previous,
            expected_threshold,
        ), (step, values)

    expected = reference(values, limit)
    page = await env.app.get("/leaderboards/board", params={"limit": 100})
    assert [(r["userId"], r["value"], r["rank"]) for r in page.json()["rankings"]] == [
        (user, value, rank) for rank, (user, value) in enumerate(expected, start=1)
    ]
    for position, (user, _value) in enumerate(expected):
        around = await env.app.get(
            "/leaderboards/board", params={"userId": user, "offset": -1, "limit": 3}
        )
        first = max(position - 1, 0)
        assert [r["userId"] for r in around.json()["rankings"]] == [
            u for u, _v in expected[first : first + 3]
        ]
