"""The event pipeline: the one place that knows the order of features.

For a list of validated events (one from `POST /metrics/{key}/event`, up to 1,000 from a
batch job), in one transaction:

1. upsert and lock the users (inline identification; new users get their creation effects);
2. record the events — the idempotency check is the insert itself;
3. add them to the users' totals with one atomic upsert;
4. streak → achievements → points → leaderboards, per recorded event, in arrival order;
5. write outbox rows for webhooks and notifications.

Steps 4 and 5 are the slots the feature modules fill; until a feature exists its slot
answers what a user without that feature has (no streak, no achievements, no points, no
leaderboard changes), which is what `EventResponse` requires.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from plaudit.achievements import completion as achievements
from plaudit.achievements import views
from plaudit.achievements.completion import EventFacts
from plaudit.core import observability
from plaudit.core.errors import Unprocessable
from plaudit.events import service as store
from plaudit.events.schemas import EventResponse, MetricEventStreakResponse
from plaudit.leaderboards import service as leaderboards
from plaudit.metrics.rules import MAX_MICRO, MAX_VALUE, ValueOutOfRange, from_micro, to_micro
from plaudit.metrics.service import metric_by_key, user_totals
from plaudit.notifications import service as notifications
from plaudit.platform.config import MetricConfig, ScopeConfig
from plaudit.points import service as points_service
from plaudit.streaks import rules as streak_rules
from plaudit.streaks import service as streaks
from plaudit.users import service as users
from plaudit.users.rules import UserState
from plaudit.users.schemas import UpsertedUser


@dataclass(frozen=True, slots=True)
class EventInput:
    metric: MetricConfig
    user: UpsertedUser
    value: int  # millionths
    attributes: dict[str, str] | None
    idempotency_key: str | None


@dataclass(frozen=True, slots=True)
class EventOutcome:
    input: EventInput
    user: UserState
    event_id: uuid.UUID | None
    replayed: bool
    total: int  # the user's total right after this event (millionths)
    achievements: list[achievements.Completed] = field(default_factory=list)
    streak: streaks.StreakOutcome | None = None  # None: a replay, which changes nothing
    # The event's points awards (`points.awards`: list[hooks.Award]) and response entries.
    points: points_service.EventPoints = field(default_factory=points_service.EventPoints)
    # Boards whose value for the user changed, keyed by board key (the response's object).
    leaderboards: dict[str, dict[str, Any]] = field(default_factory=dict)


def validate(
    config: ScopeConfig,
    *,
    metric_key: str,
    user: UpsertedUser,
    value: float,
    attributes: dict[str, str] | None,
    idempotency_key: str | None,
) -> EventInput:
    """Everything that can be checked before touching the database (404 / 422)."""
    metric = metric_by_key(config, metric_key)
    if attributes:
        unknown = sorted(key for key in attributes if key not in config.event_attribute_keys)
        if unknown:
            raise Unprocessable(
                "Invalid attribute keys: "
                + ", ".join(unknown)
                + ". Declare event attributes first with POST /admin/v1/attributes."
            )
    try:
        micro = to_micro(value)
    except ValueOutOfRange as exc:
        raise Unprocessable(str(exc)) from None
    return EventInput(metric, user, micro, attributes or None, idempotency_key)


async def after_users_created(
    conn: AsyncConnection, config: ScopeConfig, created: Sequence[UserState], now: dt.datetime
) -> None:
    """Creation effects of new users (initial streak freezes, `user_creation` points).

    Called by every path that can create a user.
    """
    await points_service.after_users_created(conn, config, created, now)


async def process(
    conn: AsyncConnection, config: ScopeConfig, inputs: Sequence[EventInput], now: dt.datetime
) -> list[EventOutcome]:
    upserted = await users.upsert(conn, config, [item.user for item in inputs], now)
    created = [result.state for result in upserted.values() if result.created]
    if created:
        await after_users_created(conn, config, created, now)

    def pk_of(item: EventInput) -> int:
        pk = upserted[item.user.id].state.pk
        assert pk is not None
        return pk

    recorded, totals = await store.record_and_add(
        conn,
        config.scope_id,
        [
            store.NewEvent(
                pk_of(item), item.metric.id, item.value, item.attributes, item.idempotency_key
            )
            for item in inputs
        ],
        now,
    )

    # Running total after each recorded event: walk backwards from the new total.
    after: dict[tuple[int, uuid.UUID], int] = dict(totals)
    running_totals: list[int | None] = [None] * len(inputs)
    for index in range(len(inputs) - 1, -1, -1):
        if recorded[index].replayed:
            continue
        pair = (pk_of(inputs[index]), inputs[index].metric.id)
        if abs(after[pair]) > MAX_MICRO:  # a batch may pass through an out-of-range total
            raise Unprocessable(f"The metric total would leave the supported range of ±{MAX_VALUE}")
        running_totals[index] = after[pair]
        after[pair] -= inputs[index].value

    facts = [
        EventFacts(
            upserted[item.user.id].state, item.metric.id, item.value, item.attributes, running
        )
        for item, running in zip(inputs, running_totals, strict=True)
        if running is not None
    ]
    with points_service.collecting(conn):  # completions' and extensions' points come below
        streak_results = await streaks.after_events(
            conn,
            config,
            [
                (upserted[item.user.id].state, item.metric.key, item.value)
                for item, running in zip(inputs, running_totals, strict=True)
                if running is not None
            ],
            now,
        )
        completed_lists = await achievements.after_events(conn, config, facts, now)
    await reevaluate_changed_profiles(conn, config, upserted.values(), now)
    points_list = await points_service.after_events(
        conn,
        config,
        _points_facts(upserted, inputs, recorded, running_totals, streak_results, completed_lists),
        now,
    )
    ranked = iter(
        await leaderboards.after_events(
            conn,
            config,
            [
                leaderboards.Contribution(
                    fact.user,
                    fact.metric_id,
                    fact.value,
                    now,
                    point_awards=earned.awards,
                    streak_length=None if streak.view is None else streak.view.length,
                )
                for fact, streak, earned in zip(facts, streak_results, points_list, strict=True)
            ],
            now,
        )
    )
    await notifications.after_events(
        conn,
        config,
        [
            upserted[item.user.id].state
            for item, running in zip(inputs, running_totals, strict=True)
            if running is not None
        ],
        now,
    )
    points_results = iter(points_list)
    streak_outcomes = iter(streak_results)
    completed = iter(completed_lists)

    outcomes: list[EventOutcome] = []
    for item, result, running in zip(inputs, recorded, running_totals, strict=True):
        user = upserted[item.user.id].state
        if result.replayed:
            total = await _replayed_total(conn, user, item, totals)
            observability.EVENTS.labels("replayed").inc()
            outcomes.append(EventOutcome(item, user, result.event_id, True, total))
        else:
            assert running is not None
            observability.EVENTS.labels("recorded").inc()
            streak = next(streak_outcomes)
            outcomes.append(
                EventOutcome(
                    item,
                    user,
                    result.event_id,
                    False,
                    running,
                    streak.achievements + next(completed),
                    streak,
                    next(points_results),
                    next(ranked),
                )
            )
    return outcomes


def _points_facts(
    upserted: dict[str, users.Upserted],
    inputs: Sequence[EventInput],
    recorded: Sequence[store.Recorded],
    running_totals: list[int | None],
    streak_results: Sequence[streaks.StreakOutcome],
    completed_lists: Sequence[list[achievements.Completed]],
) -> list[points_service.EventFacts]:
    """What the points step needs of each recorded event: the achievements it completed
    and the streak length it reached."""
    kept = [
        (item, result)
        for item, result, running in zip(inputs, recorded, running_totals, strict=True)
        if running is not None
    ]
    return [
        points_service.EventFacts(
            upserted[item.user.id].state,
            result.event_id,
            item.metric.id,
            item.value,
            item.attributes,
            streak.achievements + done,
            streak.view.length if streak.extended and streak.view else None,
        )
        for (item, result), streak, done in zip(kept, streak_results, completed_lists, strict=True)
    ]


async def reevaluate_changed_profiles(
    conn: AsyncConnection, config: ScopeConfig, results: Iterable[users.Upserted], now: dt.datetime
) -> None:
    """A user whose attributes or signUpDate changed may now qualify for achievements."""
    for result in results:
        if result.eligibility_changed and config.achievements:
            assert result.state.pk is not None
            totals = await user_totals(conn, result.state.pk)
            await achievements.reevaluate(conn, config, result.state, totals, now)


async def _replayed_total(
    conn: AsyncConnection,
    user: UserState,
    item: EventInput,
    fresh: dict[tuple[int, uuid.UUID], int],
) -> int:
    assert user.pk is not None
    pair = (user.pk, item.metric.id)
    return (
        fresh[pair] if pair in fresh else await store.current_total(conn, user.pk, item.metric.id)
    )


async def current_streak(
    conn: AsyncConnection, config: ScopeConfig, outcome: EventOutcome, now: dt.datetime
) -> MetricEventStreakResponse:
    """The user's streak as the event response shows it: after this event, or as it is now
    for a replay; length 0 while streaks are off."""
    if outcome.streak is not None:
        view, extended = outcome.streak.view, outcome.streak.extended
    else:
        assert outcome.user.pk is not None
        found = (await streaks.read(conn, config, [outcome.user], now))[outcome.user.pk]
        view = None if found is None else streak_rules.view(*found, now)
        extended = False
    if view is None:
        return MetricEventStreakResponse(
            length=0,
            frequency=config.streaks.frequency,
            started=None,
            period_start=None,
            period_end=None,
            expires=None,
            extended=False,
        )
    return MetricEventStreakResponse.model_validate(
        {**streaks.base_streak(view), "extended": extended}
    )


async def respond(
    conn: AsyncConnection, config: ScopeConfig, outcome: EventOutcome, now: dt.datetime
) -> tuple[int, EventResponse]:
    """The status and body of `POST /metrics/{key}/event` for one processed event."""
    key = outcome.input.idempotency_key
    event_id = outcome.event_id
    if outcome.replayed:
        assert key is not None
        assert outcome.user.pk is not None
        event_id = await store.original_event_id(
            conn, outcome.user.pk, outcome.input.metric.id, key
        )
    assert event_id is not None
    body = EventResponse(
        event_id=str(event_id),
        metric_id=str(outcome.input.metric.id),
        total=from_micro(outcome.total),
        achievements=[
            views.user_achievement(config, c.achievement, c.achieved_at).model_dump(
                mode="json", by_alias=True
            )
            for c in outcome.achievements
        ],
        current_streak=await current_streak(conn, config, outcome, now),
        points=outcome.points.response,
        leaderboards=outcome.leaderboards,
        idempotency_key=key,
        idempotent_replayed=outcome.replayed if key is not None else None,
    )
    return (202 if outcome.replayed else 201), body
