"""Python SDK: points systems, triggers, boosts and levels (Admin API) and the points reads,
on a live server whose clock the test moves: the energy example (creation award, cap,
blocking, daily regeneration at local midnight) and stacked boosts that start and end."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from trophy import TrophyApi, UpsertedUser
from trophy.errors import UnprocessableEntityError
from trophy.types import (
    CreateMetricRequestItem,
    CreatePointsBoostRequestItem,
    CreatePointsLevelRequestItem,
    CreatePointsSystemRequestItem,
    CreatePointsTriggerRequestItem,
    PatchPointsTriggersRequestItem,
)

from tests.compat.sdk import api_error, sdk_client, unique
from tests.conftest import BACKENDS, fresh_database
from tests.support.server import LiveServer, live_server
from tests.support.services import drop_postgres_database

pytestmark = pytest.mark.compat


@pytest.fixture(scope="module", params=BACKENDS)
async def clock_live(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    folder: Path = tmp_path_factory.mktemp(f"points-live-{request.param}")
    url = await fresh_database(request.param, folder)
    try:
        with live_server(url, folder, test_clock="true") as server:
            yield server
    finally:
        if request.param == "postgres":
            await drop_postgres_database(url)


def move_clock(live: LiveServer, when: str) -> None:
    response = httpx.put(
        f"{live.admin_url}/test-clock",
        json={"now": when},
        headers={"X-API-KEY": live.admin_key},
        timeout=120,
    )
    assert response.status_code == 200, response.text


@pytest.fixture
def points_client(clock_live: LiveServer) -> TrophyApi:
    admin = sdk_client(clock_live)
    customer = unique("tenant")
    from trophy.types import CreateTenantRequestItem

    admin.admin.tenants.create(
        request=[CreateTenantRequestItem(customer_id=customer, name=customer)]
    )
    return sdk_client(clock_live, tenant=customer)


def _metric(client: TrophyApi, key: str) -> str:
    created = client.admin.metrics.create(request=[CreateMetricRequestItem(name=key, key=key)])
    return created.created[0].id


def test_energy_example(points_client: TrophyApi, clock_live: LiveServer) -> None:
    client = points_client
    move_clock(clock_live, "2140-03-01T12:00:00Z")
    cards = _metric(client, "flashcards")
    created = client.admin.points.systems.create(
        request=[
            CreatePointsSystemRequestItem(
                name="Energy",
                key="energy",
                max_points=5,
                triggers=[
                    CreatePointsTriggerRequestItem(type="user_creation", points=5, status="active"),
                    CreatePointsTriggerRequestItem(
                        type="time", points=1, time_unit="days", time_interval=1, status="active"
                    ),
                    CreatePointsTriggerRequestItem(
                        type="metric",
                        points=-1,
                        metric_id=cards,
                        metric_threshold=1,
                        block_if_out_of_points=True,
                        status="active",
                    ),
                ],
            )
        ]
    )
    assert created.issues == []
    assert [t.type for t in client.points.system("energy").triggers] == [
        "user_creation",
        "time",
        "metric",
    ]
    client.users.create(id="eve", tz="Europe/Paris")
    assert client.users.points("eve", "energy").total == 5
    for _ in range(5):
        response = client.metrics.event("flashcards", user=UpsertedUser(id="eve"), value=1)
        assert response.points is not None
        assert response.points["energy"].added == -1
    message = api_error(
        422,
        lambda: client.metrics.event("flashcards", user=UpsertedUser(id="eve"), value=1),
        UnprocessableEntityError,
    )
    assert message == "Insufficient points in points system 'energy'"
    assert client.users.single_metric("eve", "flashcards").current == 5
    # Paris is UTC+1 in March: local midnight is 23:00 UTC.
    move_clock(clock_live, "2140-03-01T22:59:00Z")
    assert client.users.points("eve", "energy").total == 0
    move_clock(clock_live, "2140-03-01T23:00:00Z")
    assert client.users.points("eve", "energy").total == 1
    move_clock(clock_live, "2140-03-07T12:00:00Z")
    user = client.users.points("eve", "energy", awards=3)
    assert user.total == 5
    # The sixth midnight is cut to 0 by the cap and records nothing.
    assert [a.awarded for a in user.awards] == [1, 1, 1]
    assert user.awards[0].date == "2140-03-05T23:00:00Z"
    summary = client.users.points_event_summary(
        "eve", "energy", aggregation="daily", start_date="2140-03-01", end_date="2140-03-03"
    )
    assert [(s.date, s.total, s.change) for s in summary] == [
        ("2140-03-01", 0, 0),
        ("2140-03-02", 1, 1),
        ("2140-03-03", 2, 1),
    ]


def test_boosts_stack_and_follow_the_clock(
    points_client: TrophyApi, clock_live: LiveServer
) -> None:
    client = points_client
    move_clock(clock_live, "2141-03-30T12:00:00Z")
    tasks, cards, skips = (_metric(client, k) for k in ("tasks", "cards", "skips"))
    trigger = CreatePointsTriggerRequestItem
    created = client.admin.points.systems.create(
        request=[
            CreatePointsSystemRequestItem(
                name="XP",
                key="xp",
                levels=[
                    CreatePointsLevelRequestItem(name="Bronze", key="bronze", points=0),
                    CreatePointsLevelRequestItem(name="Silver", key="silver", points=50),
                ],
                triggers=[
                    trigger(
                        type="metric",
                        points=10,
                        metric_id=tasks,
                        metric_threshold=1,
                        status="active",
                    ),
                    trigger(
                        type="metric",
                        points=5,
                        metric_id=cards,
                        metric_threshold=1,
                        status="active",
                    ),
                    trigger(
                        type="metric",
                        points=-5,
                        metric_id=skips,
                        metric_threshold=1,
                        status="active",
                    ),
                ],
                boosts=[
                    CreatePointsBoostRequestItem(
                        name="A", start="2141-04-02", end="2141-04-02", multiplier=2
                    ),
                    CreatePointsBoostRequestItem(
                        name="B",
                        start="2141-04-02",
                        end="2141-04-03",
                        multiplier=1.5,
                        rounding="nearest",
                    ),
                    CreatePointsBoostRequestItem(
                        name="C", start="2141-04-02", end="2141-04-02", multiplier=3
                    ),
                ],
            )
        ]
    )
    assert created.issues == []
    [system] = created.created
    assert [b.status for b in system.boosts or []] == ["scheduled"] * 3
    user = UpsertedUser(id="bo", tz="UTC")
    first = client.metrics.event("tasks", user=user, value=1).points
    assert first is not None
    assert first["xp"].added == 10
    assert first["xp"].level is None  # bronze from 0 already: no change

    move_clock(clock_live, "2141-04-02T08:00:00Z")
    assert [b.status for b in client.points.boosts("xp")] == ["active"] * 3
    stacked = client.metrics.event("tasks", user=user, value=1).points
    assert stacked is not None
    assert stacked["xp"].added == 90
    assert stacked["xp"].level is not None
    assert stacked["xp"].level.key == "silver"
    assert [b.name for b in stacked["xp"].awards[0].boosts or []] == ["A", "B", "C"]
    mixed = client.metrics.event("cards", user=user, value=1).points
    assert mixed is not None
    assert mixed["xp"].added == 45
    deduction = client.metrics.event("skips", user=user, value=1).points
    assert deduction is not None
    assert deduction["xp"].added == -5
    assert [b.name for b in client.users.points_boosts("bo", "xp")] == ["A", "B", "C"]

    move_clock(clock_live, "2141-04-03T08:00:00Z")
    only_b = client.metrics.event("cards", user=user, value=1).points
    assert only_b is not None
    assert only_b["xp"].added == 8  # 7.5, rounded to the nearest
    assert [b.name for b in client.users.points_boosts("bo", "xp")] == ["B"]

    move_clock(clock_live, "2141-04-05T12:00:00Z")
    assert client.points.boosts("xp") == []
    assert [b.status for b in client.points.boosts("xp", include_finished=True)] == ["finished"] * 3
    after = client.metrics.event("tasks", user=user, value=1).points
    assert after is not None
    assert after["xp"].added == 10
    assert client.users.points("bo", "xp").total == 10 + 90 + 45 - 5 + 8 + 10
    levels = client.points.level_summary("xp")
    assert [(lv.level.key, lv.users) for lv in levels] == [("bronze", 0), ("silver", 1)]


def test_examples_a_and_d(points_client: TrophyApi) -> None:
    """Example A (10 points per 3 flashcards, with a high-water mark) and example D
    (levels bronze 0, silver 50, gold 200; up, unchanged, down, and a skipped level)."""
    client = points_client
    cards, xp = _metric(client, "flashcards"), _metric(client, "xp-earned")
    trigger = CreatePointsTriggerRequestItem
    created = client.admin.points.systems.create(
        request=[
            CreatePointsSystemRequestItem(
                name="Cards",
                key="cards",
                triggers=[
                    trigger(
                        type="metric",
                        points=10,
                        metric_id=cards,
                        metric_threshold=3,
                        status="active",
                    )
                ],
            ),
            CreatePointsSystemRequestItem(
                name="Levels",
                key="levels",
                levels=[
                    CreatePointsLevelRequestItem(name="Bronze", key="bronze", points=0),
                    CreatePointsLevelRequestItem(name="Silver", key="silver", points=50),
                    CreatePointsLevelRequestItem(name="Gold", key="gold", points=200),
                ],
                triggers=[
                    trigger(
                        type="metric", points=1, metric_id=xp, metric_threshold=1, status="active"
                    ),
                    trigger(
                        type="metric",
                        points=-1,
                        metric_id=xp,
                        metric_threshold=1,
                        status="inactive",
                    ),
                ],
            ),
        ]
    )
    assert created.issues == []
    seen = []
    for value in (2, 2, 5, -4, 3, 4):
        points = client.metrics.event("flashcards", user=UpsertedUser(id="ann"), value=value).points
        assert points is not None
        entry = points.get("cards")
        seen.append(None if entry is None else (entry.total, entry.added))
    assert seen == [None, (10, 10), (30, 20), None, None, (40, 10)]

    user = UpsertedUser(id="dee")
    assert client.metrics.event("xp-earned", user=user, value=40).points is not None
    steps = []
    for value in (20, 10):
        entry = (client.metrics.event("xp-earned", user=user, value=value).points or {})["levels"]
        steps.append((entry.total, entry.level.key if entry.level else None))
    assert steps == [(60, "silver"), (70, None)]
    levels = client.admin.points.triggers.list(created.created[1].id)
    client.admin.points.triggers.update(
        created.created[1].id,
        request=[
            PatchPointsTriggersRequestItem(id=levels[0].id, status="inactive"),
            PatchPointsTriggersRequestItem(id=levels[1].id, status="active"),
        ],
    )
    # A decrease on the deduction trigger: 30 units take 30 points.
    down = (client.metrics.event("xp-earned", user=user, value=30).points or {})["levels"]
    assert (down.total, down.level.key if down.level else None) == (40, "bronze")
    client.admin.points.triggers.update(
        created.created[1].id,
        request=[
            PatchPointsTriggersRequestItem(id=levels[0].id, status="active"),
            PatchPointsTriggersRequestItem(id=levels[1].id, status="inactive"),
        ],
    )
    up = (client.metrics.event("xp-earned", user=user, value=200).points or {})["levels"]
    assert (up.total, up.level.key if up.level else None) == (240, "gold")
    summary = client.points.level_summary("levels")
    # ann never earned points here: at 0, she is at the 0-point level (and in range 0-0).
    assert [(lv.level.key, lv.users) for lv in summary] == [
        ("bronze", 1),
        ("silver", 0),
        ("gold", 1),
    ]
    histogram = client.points.summary("levels")
    assert [(r.from_, r.to, r.users) for r in histogram][:1] == [(0, 0, 1)]
    assert (histogram[-1].to, histogram[3].users) == (1000, 1)  # 240 in 201-300
