"""The worked examples of leaderboards.md §12 through Trophy's official Python SDK, against a
real server whose time moves only through the test clock (one server per backend and test
module; the examples use years of their own because the clock only moves forward).

Dates are those of the spec moved by whole weeks so that weekdays stay the same
(2025-01-01 and 2031-01-01 are both Wednesdays)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from trophy import TrophyApi, UpsertedUser
from trophy.errors import NotFoundError, UnprocessableEntityError
from trophy.types import (
    CreateAttributeRequestItem,
    CreateLeaderboardRequestItem,
    CreateMetricRequestItem,
    CreateTenantRequestItem,
    UpdateLeaderboardRequestItem,
)

from tests.compat.sdk import api_error, sdk_client, unique
from tests.conftest import BACKENDS, fresh_database
from tests.support.server import LiveServer, live_server
from tests.support.services import drop_postgres_database

pytestmark = pytest.mark.compat


@pytest.fixture(scope="module")
async def sqlite_clock_live(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[LiveServer]:
    folder = tmp_path_factory.mktemp("sqlite-clock-live")
    url = await fresh_database("sqlite", folder)
    with live_server(url, folder, test_clock="true") as server:
        yield server


@pytest.fixture(scope="module")
async def postgres_clock_live(
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[LiveServer]:
    folder = tmp_path_factory.mktemp("postgres-clock-live")
    url = await fresh_database("postgres", folder)
    try:
        with live_server(url, folder, test_clock="true") as server:
            yield server
    finally:
        await drop_postgres_database(url)


@pytest.fixture(params=BACKENDS)
def server(request: pytest.FixtureRequest) -> LiveServer:
    found: LiveServer = request.getfixturevalue(f"{request.param}_clock_live")
    return found


class Clock:
    def __init__(self, live: LiveServer) -> None:
        self.live = live

    def to(self, when: str) -> None:
        response = httpx.put(
            f"{self.live.admin_url}/test-clock",
            json={"now": when},
            headers={"X-API-KEY": self.live.admin_key},
            timeout=60,
        )
        assert response.status_code == 200, response.text


@pytest.fixture
def clock(server: LiveServer) -> Clock:
    return Clock(server)


@pytest.fixture
def client(server: LiveServer) -> TrophyApi:
    customer = unique("tenant")
    sdk_client(server).admin.tenants.create(
        request=[CreateTenantRequestItem(customer_id=customer, name=customer)]
    )
    return sdk_client(server, tenant=customer)


def _metric(client: TrophyApi, key: str) -> str:
    [created] = client.admin.metrics.create(
        request=[CreateMetricRequestItem(name=key.title(), key=key)]
    ).created
    return created.id


def _board(client: TrophyApi, **fields: object) -> str:
    response = client.admin.leaderboards.create(
        request=[CreateLeaderboardRequestItem(**fields)]  # type: ignore[arg-type]
    )
    assert response.issues == [], response.issues
    return response.created[0].id


def _status(client: TrophyApi, board_id: str, status: str) -> None:
    response = client.admin.leaderboards.update(
        request=[UpdateLeaderboardRequestItem(id=board_id, status=status)]  # type: ignore[arg-type]
    )
    assert response.issues == [], response.issues


def _ranks(client: TrophyApi, key: str, **query: object) -> list[tuple[str, int, int]]:
    board = client.leaderboards.get(key, **query)  # type: ignore[arg-type]
    return [(r.user_id, r.rank, r.value) for r in board.rankings]


def test_a_weekly_runs_roll_over_in_each_users_time_zone(client: TrophyApi, clock: Clock) -> None:
    clock.to("2030-12-31T09:00:00Z")
    metric = _metric(client, "flashcards-flipped")
    board = _board(
        client,
        name="Weekly",
        key="weekly",
        rank_by="metric",
        metric_id=metric,
        start="2031-01-01",
        run_unit="day",
        run_interval=7,
    )
    _status(client, board, "scheduled")
    assert [(b.key, b.status) for b in client.leaderboards.all_()] == [("weekly", "scheduled")]
    clock.to("2030-12-31T10:00:00Z")  # announced (and tracked) the day before, 10:00 UTC
    assert client.leaderboards.get("weekly").status == "active"

    tokyo = UpsertedUser(id="tokyo", tz="Asia/Tokyo")
    clock.to("2031-01-07T17:00:00Z")  # 2031-01-08 02:00 in Tokyo: run 1
    event = client.metrics.event("flashcards-flipped", user=tokyo, value=3)
    shown = event.leaderboards["weekly"]
    assert (shown.start, shown.end, shown.rank, shown.previous_rank) == (
        "2031-01-08",
        "2031-01-14",
        1,
        None,
    )

    los_angeles = UpsertedUser(id="la", tz="America/Los_Angeles")
    clock.to("2031-01-08T07:00:00Z")  # 2031-01-07 23:00 in Los Angeles: still run 0
    shown = client.metrics.event("flashcards-flipped", user=los_angeles, value=5).leaderboards[
        "weekly"
    ]
    assert (shown.start, shown.end, shown.rank) == ("2031-01-01", "2031-01-07", 1)

    clock.to("2031-01-10T12:00:00Z")
    shown = client.metrics.event("flashcards-flipped", user=UpsertedUser(id="utc"), value=4)
    assert (shown.leaderboards["weekly"].start, shown.leaderboards["weekly"].rank) == (
        "2031-01-08",
        1,
    )
    run_1 = [("utc", 1, 4), ("tokyo", 2, 3)]
    assert _ranks(client, "weekly") == run_1
    assert _ranks(client, "weekly", run="2031-01-10") == run_1
    assert _ranks(client, "weekly", run="2031-01-08") == run_1
    assert _ranks(client, "weekly", run="2031-01-03") == [("la", 1, 5)]
    for outside in ("2030-12-31", "2031-01-15"):
        message = api_error(
            422,
            lambda d=outside: client.leaderboards.get("weekly", run=d),
            UnprocessableEntityError,
        )
        assert message == "No run exists for this date"

    mine = client.users.leaderboard("la", "weekly", run="2031-01-01")
    assert (mine.rank, mine.value) == (1, 5)
    assert [(h.date, h.rank, h.value) for h in mine.history] == [("2031-01-07", 1, 5)]
    assert client.users.leaderboard("la", "weekly").rank is None  # nothing in run 1


def test_a_run_is_finalized_half_a_day_after_its_end(client: TrophyApi, clock: Clock) -> None:
    clock.to("2031-02-01T00:00:00Z")
    metric = _metric(client, "pages")
    board = _board(
        client,
        name="Sprint",
        key="sprint",
        rank_by="metric",
        metric_id=metric,
        start="2031-02-01",
        end="2031-02-07",
    )
    _status(client, board, "active")
    clock.to("2031-02-08T09:00:00Z")  # still 2031-02-07 (23:00) in Honolulu: counts
    honolulu = UpsertedUser(id="hnl", tz="Pacific/Honolulu")
    shown = client.metrics.event("pages", user=honolulu, value=2).leaderboards["sprint"]
    assert (shown.rank, shown.end) == (1, "2031-02-07")
    clock.to("2031-02-08T12:59:00Z")
    assert client.leaderboards.get("sprint").status == "active"
    clock.to("2031-02-08T13:00:00Z")
    finished = client.leaderboards.get("sprint")
    assert finished.status == "finished"
    assert [(r.user_id, r.value) for r in finished.rankings] == [("hnl", 2)]
    assert [b.key for b in client.leaderboards.all_()] == []
    assert [b.key for b in client.leaderboards.all_(include_finished=True)] == ["sprint"]
    # Activity after the end changes nothing.
    assert client.metrics.event("pages", user=honolulu, value=1).leaderboards == {}


def test_b_a_full_board_takes_a_newcomer_only_above_the_threshold(
    client: TrophyApi, clock: Clock
) -> None:
    clock.to("2032-03-01T08:00:00Z")
    metric = _metric(client, "words")
    board = _board(
        client, name="Top 3", key="top3", rank_by="metric", metric_id=metric, max_participants=3
    )
    _status(client, board, "active")
    for user, value, at in (("A", 10, "09:00"), ("B", 8, "10:00"), ("C", 5, "11:00")):
        clock.to(f"2032-03-01T{at}:00Z")
        client.metrics.event("words", user=UpsertedUser(id=user), value=value)
    assert _ranks(client, "top3") == [("A", 1, 10), ("B", 2, 8), ("C", 3, 5)]

    clock.to("2032-03-01T12:00:00Z")
    shown = client.metrics.event("words", user=UpsertedUser(id="D"), value=5).leaderboards["top3"]
    assert (shown.rank, shown.previous_rank, shown.threshold) == (None, None, 5)
    assert _ranks(client, "top3") == [("A", 1, 10), ("B", 2, 8), ("C", 3, 5)]

    clock.to("2032-03-01T12:30:00Z")
    shown = client.metrics.event("words", user=UpsertedUser(id="D"), value=1).leaderboards["top3"]
    assert (shown.rank, shown.previous_rank, shown.threshold) == (3, None, 6)
    assert _ranks(client, "top3") == [("A", 1, 10), ("B", 2, 8), ("D", 3, 6)]
    assert client.users.leaderboard("C", "top3").rank is None
    # Around-me pages and a limit above the board size.
    assert _ranks(client, "top3", user_id="B", limit=2) == [("B", 2, 8), ("D", 3, 6)]
    assert _ranks(client, "top3", offset=1, limit=100) == [("B", 2, 8), ("D", 3, 6)]
    assert _ranks(client, "top3", user_id="C") == []


def test_c_only_activity_inside_the_daily_window_counts(client: TrophyApi, clock: Clock) -> None:
    clock.to("2033-06-01T00:00:00Z")
    metric = _metric(client, "reps")
    board = _board(
        client,
        name="Office hours",
        key="office",
        rank_by="metric",
        metric_id=metric,
        start_time="09:00",
        end_time="17:00",
    )
    _status(client, board, "active")
    paris = UpsertedUser(id="paris", tz="Europe/Paris")  # UTC+2 in June
    counted = []
    for local in ("08:59", "09:00", "16:59", "17:00"):
        hour, minute = local.split(":")
        clock.to(f"2033-06-01T{int(hour) - 2:02d}:{minute}:00Z")
        event = client.metrics.event("reps", user=paris, value=1)
        counted.append("office" in event.leaderboards)
        assert event.total == len(counted)  # the metric total counts every event
    assert counted == [False, True, True, False]
    assert _ranks(client, "office") == [("paris", 1, 2)]

    # The rest of the Admin API through the SDK: get, list, delete.
    got = client.admin.leaderboards.get(board)
    assert (got.key, got.start_time, got.end_time, got.status) == (
        "office",
        "09:00",
        "17:00",
        "active",
    )
    assert [b.id for b in client.admin.leaderboards.list()] == [board]
    assert [d.id for d in client.admin.leaderboards.delete(ids=[board]).deleted] == [board]
    api_error(404, lambda: client.leaderboards.get("office"), NotFoundError)


def test_d_breakdown_groups_rank_separately(client: TrophyApi, clock: Clock) -> None:
    clock.to("2034-01-01T00:00:00Z")
    metric = _metric(client, "miles")
    [city] = client.admin.attributes.create(
        request=[CreateAttributeRequestItem(name="City", key="city", type="user")]
    ).created
    board = _board(
        client,
        name="Cities",
        key="cities",
        rank_by="metric",
        metric_id=metric,
        max_participants=2,
        breakdown_attributes=[city.id],
    )
    _status(client, board, "active")
    people = [
        ("l1", "london", 3),
        ("l2", "london", 5),
        ("l3", "london", 4),
        ("p1", "paris", 1),
        ("nowhere", None, 9),
    ]
    for user_id, town, value in people:
        user = UpsertedUser(id=user_id, attributes={"city": town} if town else None)
        event = client.metrics.event("miles", user=user, value=value)
        if town is None:
            assert event.leaderboards == {}
        else:
            shown = event.leaderboards["cities"]
            assert shown.breakdown_attribute_value == town
            assert [(v.key, v.value) for v in shown.breakdown_attribute_values or []] == [
                ("city", town)
            ]
    assert _ranks(client, "cities", user_attributes="city:london") == [
        ("l2", 1, 5),
        ("l3", 2, 4),
    ]
    assert _ranks(client, "cities", user_attributes="city:paris") == [("p1", 1, 1)]
    message = api_error(422, lambda: client.leaderboards.get("cities"), UnprocessableEntityError)
    assert "userAttributes is required" in message
    listed = client.leaderboards.all_()
    assert [(b.key, b.breakdown_attributes, b.breakdown_attribute) for b in listed] == [
        ("cities", ["city"], "city")
    ]
