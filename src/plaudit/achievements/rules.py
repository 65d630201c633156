"""Pure rules of achievements: what a definition may hold, when one completes, in which order
they are listed, and how rare they are."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from plaudit.core.periods import start_of_local_day

TRIGGER_FIELDS: dict[str, tuple[str, ...]] = {
    "metric": ("metric_id", "metric_value"),
    "streak": ("streak_length",),
    "api": ("key",),
    "achievement": ("achievement_ids",),
    "anniversary": ("anniversary_years",),
}
# Fields that belong to exactly one trigger (event filters belong to metric achievements).
OWNED_FIELDS: dict[str, str] = {
    "metric_id": "metric",
    "metric_value": "metric",
    "event_attributes": "metric",
    "streak_length": "streak",
    "key": "api",
    "achievement_ids": "achievement",
    "anniversary_years": "anniversary",
}
WIRE_NAMES = {
    "metric_id": "metricId",
    "metric_value": "metricValue",
    "event_attributes": "eventAttributes",
    "streak_length": "streakLength",
    "key": "key",
    "achievement_ids": "achievementIds",
    "anniversary_years": "anniversaryYears",
}
# Allowed status changes: an achievement never goes back to inactive once live.
TRANSITIONS: dict[str, frozenset[str]] = {
    "inactive": frozenset({"inactive", "active"}),
    "active": frozenset({"active", "locked"}),
    "locked": frozenset({"locked", "active"}),
}
CATALOGUE_GROUPS = {"metric": 0, "streak": 1, "achievement": 2, "anniversary": 3, "api": 4}


@dataclass(frozen=True, slots=True)
class AchievementConfig:
    id: uuid.UUID
    name: str
    description: str | None
    badge_url: str | None
    trigger: str
    status: str
    key: str | None
    metric_id: uuid.UUID | None
    metric_value: int | None  # millionths
    streak_length: int | None
    anniversary_years: int | None
    achievement_ids: tuple[uuid.UUID, ...]
    user_filters: tuple[tuple[str, str], ...]  # (attribute key, value)
    event_filters: tuple[tuple[str, str], ...]
    created: dt.datetime
    updated: dt.datetime  # last change of definition or status (backdating ran after it)

    @property
    def completable(self) -> bool:
        return self.status == "active"


def trigger_problems(
    trigger: str, present: Iterable[str], values: Mapping[str, object]
) -> list[str]:
    """What is wrong with the trigger-specific fields of a definition (empty when nothing)."""
    present = set(present)
    problems = [
        f"{WIRE_NAMES[name]} is only allowed for {owner} achievements"
        for name, owner in OWNED_FIELDS.items()
        if name in present and owner != trigger
    ]
    problems += [
        f"{WIRE_NAMES[name]} is required for {trigger} achievements"
        for name in TRIGGER_FIELDS[trigger]
        if values.get(name) is None
    ]
    minimums = {"metric_value": 1, "streak_length": 1, "anniversary_years": 1}
    for name, minimum in minimums.items():
        value = values.get(name)
        if OWNED_FIELDS[name] == trigger and isinstance(value, int | float) and value < minimum:
            problems.append(f"{WIRE_NAMES[name]} must be at least {minimum}")
    if trigger == "achievement" and values.get("achievement_ids") == []:
        problems.append("achievementIds must list at least one achievement")
    return problems


def user_matches(achievement: AchievementConfig, attributes: Mapping[str, str]) -> bool:
    return all(attributes.get(key) == value for key, value in achievement.user_filters)


def event_matches(achievement: AchievementConfig, attributes: Mapping[str, str] | None) -> bool:
    event = attributes or {}
    return all(event.get(key) == value for key, value in achievement.event_filters)


def crossed(threshold: int, before: int, after: int) -> bool:
    """The total went from below `threshold` to at least it (only reaching counts)."""
    return before < threshold <= after


def cascade(
    composites: Iterable[AchievementConfig],
    completed: set[uuid.UUID],
    eligible: Callable[[AchievementConfig], bool],
) -> list[AchievementConfig]:
    """Composites that complete given `completed`, repeated until nothing new completes."""
    pending = [a for a in composites if a.completable and a.id not in completed and eligible(a)]
    done: list[AchievementConfig] = []
    known = set(completed)
    progress = True
    while progress:
        progress = False
        for composite in list(pending):
            if all(prerequisite in known for prerequisite in composite.achievement_ids):
                done.append(composite)
                known.add(composite.id)
                pending.remove(composite)
                progress = True
    return done


def creates_cycle(
    achievement_id: uuid.UUID,
    prerequisites: Iterable[uuid.UUID],
    graph: Mapping[uuid.UUID, Iterable[uuid.UUID]],
) -> bool:
    """Would `achievement_id` requiring `prerequisites` close a loop in `graph`?"""
    stack = list(prerequisites)
    seen: set[uuid.UUID] = set()
    while stack:
        node = stack.pop()
        if node == achievement_id:
            return True
        if node in seen:
            continue
        seen.add(node)
        stack.extend(graph.get(node, ()))
    return False


def add_years(day: dt.date, years: int) -> dt.date:
    """`day` plus whole years; 29 February falls on 28 February in other years."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def anniversary_due(sign_up: dt.date, years: int, tz: ZoneInfo) -> dt.datetime:
    """The instant the `years`-th anniversary of `sign_up` begins in `tz` (local midnight)."""
    return start_of_local_day(add_years(sign_up, years), tz)


def catalogue_key(
    achievement: AchievementConfig, metric_position: Mapping[uuid.UUID, int]
) -> tuple[object, ...]:
    """Listing order: metric (by metric, then threshold), streak (by length), composite,
    anniversary (by years), api; creation time breaks ties."""
    group = CATALOGUE_GROUPS[achievement.trigger]
    if achievement.trigger == "metric":
        assert achievement.metric_id is not None
        detail: tuple[object, ...] = (
            metric_position.get(achievement.metric_id, 0),
            achievement.metric_value or 0,
        )
    elif achievement.trigger == "streak":
        detail = (achievement.streak_length or 0,)
    elif achievement.trigger == "anniversary":
        detail = (achievement.anniversary_years or 0,)
    else:
        detail = ()
    return (group, *detail, achievement.created, str(achievement.id))


def rarity(completions: int, users: int) -> float:
    """Percentage of the scope's users who completed it, to two decimals."""
    return round(completions * 100 / users, 2) if users else 0.0


def parse_user_attributes_query(text: str | None) -> dict[str, str] | None:
    """`k:v,k2:v2` → mapping (split on the first colon); None when absent."""
    if text is None:
        return None
    pairs: dict[str, str] = {}
    for part in text.split(","):
        key, colon, value = part.partition(":")
        if not colon or not key:
            raise ValueError(f"userAttributes entry {part!r} is not key:value")
        pairs[key] = value
    return pairs
