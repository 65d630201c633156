"""Pure leaderboard rules: runs, windows, the sweep's schedule, breakdown queries."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import replace

import pytest

from plaudit.leaderboards import rules
from plaudit.leaderboards.rules import LeaderboardConfig, Progress

BOARD = LeaderboardConfig(
    id=uuid.uuid4(),
    key="b",
    name="B",
    description=None,
    status="active",
    rank_by="metric",
    metric_id=None,
    points_system_id=None,
    max_participants=10,
    start=dt.date(2025, 1, 1),
    end=None,
    start_time=None,
    end_time=None,
    breakdown=(),
    user_filters=(),
    run_unit="day",
    run_interval=7,
    created=dt.datetime(2025, 1, 1, tzinfo=dt.UTC),
)
D = dt.date


def test_weekly_runs_and_their_announcements() -> None:
    run = rules.run_for_date(BOARD, D(2025, 1, 10))
    assert run == rules.Run(1, D(2025, 1, 8), D(2025, 1, 14))
    assert rules.started_at(run) == dt.datetime(2025, 1, 7, 10, tzinfo=dt.UTC)
    assert rules.finalized_at(run) == dt.datetime(2025, 1, 15, 13, tzinfo=dt.UTC)
    assert rules.run_for_date(BOARD, D(2024, 12, 31)) is None


def test_monthly_runs_are_anchored_on_the_start_and_clamped() -> None:
    monthly = replace(BOARD, start=D(2025, 1, 31), run_unit="month", run_interval=1)
    starts = [rules.run_start(monthly, k) for k in range(4)]
    assert starts == [D(2025, 1, 31), D(2025, 2, 28), D(2025, 3, 31), D(2025, 4, 30)]
    assert rules.run_for_date(monthly, D(2025, 3, 30)) == rules.Run(
        1, D(2025, 2, 28), D(2025, 3, 30)
    )
    yearly = replace(BOARD, start=D(2024, 2, 29), run_unit="year", run_interval=1)
    assert rules.run_for_date(yearly, D(2025, 3, 1)) == rules.Run(1, D(2025, 2, 28), D(2026, 2, 27))


def test_the_end_cuts_the_last_run() -> None:
    ending = replace(BOARD, end=D(2025, 1, 10))
    assert rules.last_run(ending) == rules.Run(1, D(2025, 1, 8), D(2025, 1, 10))
    assert rules.run(ending, 2) is None
    assert rules.current_run(ending, D(2026, 1, 1)).index == 1


@pytest.mark.parametrize(
    ("start", "end", "inside", "outside"),
    [
        ("09:00", "17:00", ["09:00", "16:59"], ["08:59", "17:00"]),
        ("09:00", None, ["09:00", "23:59"], ["08:59"]),
        (None, "17:00", ["00:00", "16:59"], ["17:00"]),
        ("22:00", "02:00", ["22:00", "01:59"], ["02:00", "21:59"]),
    ],
)
def test_daily_windows(
    start: str | None, end: str | None, inside: list[str], outside: list[str]
) -> None:
    board = replace(BOARD, start_time=start, end_time=end)
    assert all(rules.in_window(board, dt.time.fromisoformat(t)) for t in inside)
    assert not any(rules.in_window(board, dt.time.fromisoformat(t)) for t in outside)


def test_the_schedule_announces_then_finalizes_in_time_order() -> None:
    board = replace(BOARD, end=D(2025, 1, 14))
    progress = rules.progress_on_activation(board, "scheduled", D(2024, 12, 1))
    seen = []
    step = rules.next_step(board, progress)
    while step is not None:
        kind, run, when = step
        seen.append((kind, run.index, when))
        progress = rules.apply_step(board, progress, kind)
        step = rules.next_step(board, progress)
    assert seen == [
        ("start", 0, dt.datetime(2024, 12, 31, 10, tzinfo=dt.UTC)),
        ("start", 1, dt.datetime(2025, 1, 7, 10, tzinfo=dt.UTC)),
        ("finish", 0, dt.datetime(2025, 1, 8, 13, tzinfo=dt.UTC)),
        ("finish", 1, dt.datetime(2025, 1, 15, 13, tzinfo=dt.UTC)),
    ]
    assert progress == Progress("finished", 2, 2)


def test_breakdown_queries() -> None:
    city, region = uuid.uuid4(), uuid.uuid4()
    board = replace(BOARD, breakdown=((region, "region"), (city, "city")))
    group = rules.parse_group_query(board, "city:london,region:south")
    assert rules.group_pairs(board, group) == [("region", "south"), ("city", "london")]
    assert rules.group_of(board, {"city": "london", "region": "south"}) == group
    assert rules.group_of(board, {"city": "london"}) is None
    for bad in (None, "city:london", "city:london,region:s,x:y", "city"):
        with pytest.raises(ValueError, match="userAttributes"):
            rules.parse_group_query(board, bad)
    with pytest.raises(ValueError, match="only valid"):
        rules.parse_group_query(BOARD, "city:london")
