"""Pure rules of achievements."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from plaudit.achievements import rules
from plaudit.achievements.rules import AchievementConfig

NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def achievement(trigger: str = "metric", **fields: object) -> AchievementConfig:
    base: dict[str, object] = {
        "id": uuid.uuid4(),
        "name": "A",
        "description": None,
        "badge_url": None,
        "trigger": trigger,
        "status": "active",
        "key": None,
        "metric_id": None,
        "metric_value": None,
        "streak_length": None,
        "anniversary_years": None,
        "achievement_ids": (),
        "user_filters": (),
        "event_filters": (),
        "created": NOW,
        "updated": NOW,
    }
    return AchievementConfig(**{**base, **fields})  # type: ignore[arg-type]


def test_each_trigger_requires_its_fields_and_refuses_others() -> None:
    assert (
        rules.trigger_problems(
            "metric", {"metric_id", "metric_value"}, {"metric_id": "x", "metric_value": 5}
        )
        == []
    )
    assert rules.trigger_problems("metric", set(), {}) == [
        "metricId is required for metric achievements",
        "metricValue is required for metric achievements",
    ]
    assert rules.trigger_problems(
        "api", {"key", "streak_length"}, {"key": "k", "streak_length": 3}
    ) == ["streakLength is only allowed for streak achievements"]
    assert "streakLength must be at least 1" in rules.trigger_problems(
        "streak", {"streak_length"}, {"streak_length": 0}
    )
    assert "achievementIds must list at least one achievement" in rules.trigger_problems(
        "achievement", {"achievement_ids"}, {"achievement_ids": []}
    )
    assert rules.trigger_problems("api", {"event_attributes", "key"}, {"key": "k"}) == [
        "eventAttributes is only allowed for metric achievements"
    ]


@given(st.integers(-1000, 1000), st.integers(-1000, 1000), st.integers(1, 1000))
def test_only_reaching_a_threshold_counts(before: int, after: int, threshold: int) -> None:
    assert rules.crossed(threshold, before, after) == (before < threshold <= after)


def test_composites_cascade_until_nothing_changes() -> None:
    a, b = achievement(), achievement()
    ab = achievement("achievement", achievement_ids=(a.id, b.id))
    top = achievement("achievement", achievement_ids=(ab.id,))
    locked = achievement("achievement", achievement_ids=(a.id,), status="locked")
    assert rules.cascade([top, ab, locked], {a.id}, lambda _: True) == []
    assert rules.cascade([top, ab, locked], {a.id, b.id}, lambda _: True) == [ab, top]
    assert rules.cascade([top, ab], {a.id, b.id, ab.id}, lambda _: True) == [top]
    assert rules.cascade([ab], {a.id, b.id}, lambda _: False) == []


def test_cycles_are_detected() -> None:
    a, b, c = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    graph = {a: [b], b: [c]}
    assert rules.creates_cycle(c, [a], graph)
    assert not rules.creates_cycle(c, [b], {b: []})
    assert rules.creates_cycle(a, [a], {})


@pytest.mark.parametrize(
    ("day", "years", "expected"),
    [
        (dt.date(2024, 2, 29), 1, dt.date(2025, 2, 28)),
        (dt.date(2024, 2, 29), 4, dt.date(2028, 2, 29)),
        (dt.date(2023, 12, 31), 2, dt.date(2025, 12, 31)),
        (dt.date(2025, 3, 1), -1, dt.date(2024, 3, 1)),
    ],
)
def test_years_are_added_on_the_calendar(day: dt.date, years: int, expected: dt.date) -> None:
    assert rules.add_years(day, years) == expected


def test_an_anniversary_begins_at_local_midnight() -> None:
    from plaudit.core.periods import zone

    due = rules.anniversary_due(dt.date(2025, 6, 1), 1, zone("Asia/Tokyo"))
    assert due == dt.datetime(2026, 5, 31, 15, 0, tzinfo=dt.UTC)


def test_filters_need_every_pair() -> None:
    a = achievement(
        user_filters=(("plan", "pro"), ("region", "eu")), event_filters=(("source", "ios"),)
    )
    assert rules.user_matches(a, {"plan": "pro", "region": "eu", "x": "y"})
    assert not rules.user_matches(a, {"plan": "pro"})
    assert rules.event_matches(a, {"source": "ios"})
    assert not rules.event_matches(a, None)


def test_rarity_is_a_percentage_of_users() -> None:
    assert rules.rarity(8, 10) == 80.0
    assert rules.rarity(1, 3) == 33.33
    assert rules.rarity(0, 0) == 0.0


def test_user_attribute_queries_split_on_the_first_colon() -> None:
    assert rules.parse_user_attributes_query("plan:pro,url:http://x") == {
        "plan": "pro",
        "url": "http://x",
    }
    assert rules.parse_user_attributes_query("empty:") == {"empty": ""}
    assert rules.parse_user_attributes_query(None) is None
    with pytest.raises(ValueError, match="not key:value"):
        rules.parse_user_attributes_query("nocolon")


def test_catalogue_order_groups_by_trigger() -> None:
    m1, m2 = uuid.uuid4(), uuid.uuid4()
    big = achievement(metric_id=m1, metric_value=10)
    small = achievement(metric_id=m1, metric_value=5)
    other = achievement(metric_id=m2, metric_value=1)
    streak = achievement("streak", streak_length=7)
    api = achievement("api", key="k")
    combo = achievement("achievement", achievement_ids=(big.id,))
    position = {m1: 0, m2: 1}
    ordered = sorted(
        [api, combo, streak, other, big, small], key=lambda a: rules.catalogue_key(a, position)
    )
    assert ordered == [small, big, other, streak, combo, api]
