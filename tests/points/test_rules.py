"""The pure points rules: metric crossings, boosts and rounding, caps and floors, levels,
the histogram, boost statuses and announcement times, time-trigger due times."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

from plaudit.core.periods import zone
from plaudit.points import rules
from plaudit.points.config import Boost, Level

UTC = dt.UTC


def boost(multiplier: float, rounding: str = "down", **extra: object) -> Boost:
    fields: dict[str, object] = {
        "id": uuid.uuid4(),
        "system_id": uuid.uuid4(),
        "name": "b",
        "start": dt.date(2030, 1, 10),
        "end": dt.date(2030, 1, 12),
        "multiplier": multiplier,
        "rounding": rounding,
        "user_pk": None,
        "user_filters": (),
        **extra,
    }
    return Boost(**fields)  # type: ignore[arg-type]


def test_metric_crossings_follow_example_a() -> None:
    marks = rules.Marks()
    seen = []
    for value in (2, 2, 5, -4, 3, 4):
        marks, crossed = rules.metric_step(marks, value * rules.MICRO, 3)
        seen.append((marks.acc // rules.MICRO, marks.hwm // rules.MICRO, crossed))
    assert seen == [(2, 2, 0), (4, 4, 1), (9, 9, 2), (5, 9, 0), (8, 9, 0), (12, 12, 1)]


def test_fractional_values_cross_thresholds_exactly() -> None:
    marks, crossed = rules.metric_step(rules.Marks(), 2_999_999, 3)
    assert crossed == 0
    _marks, crossed = rules.metric_step(marks, 1, 3)
    assert crossed == 1


def test_boosts_stack_and_round_like_example_b() -> None:
    a, b, c = boost(2), boost(1.5, "nearest"), boost(3)
    assert rules.boosted(10, [a, b, c]) == 90
    assert rules.boosted(5, [b]) == 8
    assert rules.boosted(5, [boost(1.5, "down")]) == 7
    assert rules.boosted(5, [boost(1.5, "up")]) == 8
    assert rules.boosted(5, [a, b]) == 15
    assert rules.boosted(5, [b, c]) == 22  # 22.5 with down and nearest: down
    assert rules.boosted(-5, [a]) == -5
    assert rules.boosted(1, [boost(0.1, "up"), boost(0.1, "nearest")]) == 0  # 0.01 nearest
    assert rules.boosted(3, [boost(0.5, "up")]) == 2


@pytest.mark.parametrize(
    ("raw", "balance", "cap", "expected"),
    [
        (5, 0, None, 5),
        (5, 3, 5, 2),
        (5, 5, 5, 0),
        (5, 9, 5, 0),
        (-3, 2, None, -2),
        (-3, 0, 5, 0),
        (10**30, 5, None, rules.MAX_BALANCE - 5),
    ],
)
def test_caps_and_floors(raw: int, balance: int, cap: int | None, expected: int) -> None:
    assert rules.settle(raw, balance, cap) == expected


def test_levels_are_reached_at_their_threshold() -> None:
    levels = [Level(uuid.uuid4(), k, k, "", None, p) for k, p in (("b", 0), ("s", 50), ("g", 200))]
    assert [
        (rules.level_for(levels, n) or levels[0]).key for n in (0, 49, 50, 199, 200, 10**9)
    ] == ["b", "b", "s", "s", "g", "g"]
    assert rules.level_for(levels[1:], 10) is None


def test_histogram_has_eleven_ranges_up_to_a_power_of_ten() -> None:
    ranges = rules.histogram([0, 0, 1, 100, 101, 550])
    assert [(r.start, r.end) for r in ranges][:3] == [(0, 0), (1, 100), (101, 200)]
    assert ranges[-1].end == 1000
    assert [r.users for r in ranges] == [2, 2, 1, 0, 0, 0, 1, 0, 0, 0, 0]
    assert [(r.start, r.end) for r in rules.histogram([])][1:3] == [(1, 1), (2, 2)]
    assert rules.histogram([])[-1].end == 10
    assert rules.histogram([1000])[-1] == rules.Range(901, 1000, 1)


def test_global_boost_status_spans_every_time_zone() -> None:
    b = boost(2)  # 10 to 12 January
    assert rules.global_status(b, dt.datetime(2030, 1, 9, 9, 59, tzinfo=UTC)) == "scheduled"
    assert rules.global_status(b, dt.datetime(2030, 1, 9, 10, 0, tzinfo=UTC)) == "active"
    assert rules.global_status(b, dt.datetime(2030, 1, 13, 11, 59, tzinfo=UTC)) == "active"
    assert rules.global_status(b, dt.datetime(2030, 1, 13, 12, 0, tzinfo=UTC)) == "finished"
    assert rules.global_status(boost(2, end=None), dt.datetime(2999, 1, 1, tzinfo=UTC)) == "active"


def test_announcement_times() -> None:
    started, finished = rules.announcements(boost(2), None)
    assert (started, finished) == (
        dt.datetime(2030, 1, 9, 10, tzinfo=UTC),
        dt.datetime(2030, 1, 13, 13, tzinfo=UTC),
    )
    started, finished = rules.announcements(boost(2, user_pk=1), zone("America/New_York"))
    assert (started, finished) == (
        dt.datetime(2030, 1, 10, 5, tzinfo=UTC),
        dt.datetime(2030, 1, 13, 5, tzinfo=UTC),
    )
    assert rules.next_announcement(boost(2, end=None), None, "started") == (None, None)


def test_time_triggers_fire_at_local_midnight_across_dst() -> None:
    paris = zone("Europe/Paris")
    # The night of 30 to 31 March 2030 loses an hour: midnight moves from 23:00 to 22:00 UTC.
    first = rules.next_due("days", 1, dt.datetime(2030, 3, 29, 12, tzinfo=UTC), paris)
    assert first == dt.datetime(2030, 3, 29, 23, tzinfo=UTC)
    second = rules.next_due("days", 1, first, paris)
    third = rules.next_due("days", 1, second, paris)
    assert (second, third) == (
        dt.datetime(2030, 3, 30, 23, tzinfo=UTC),
        dt.datetime(2030, 3, 31, 22, tzinfo=UTC),
    )
    assert rules.next_due("hours", 3, first, paris) == first + dt.timedelta(hours=3)
    assert rules.next_due("days", 2, first, paris) == dt.datetime(2030, 3, 31, 22, tzinfo=UTC)
