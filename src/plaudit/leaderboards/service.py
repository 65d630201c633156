"""Leaderboard tracking: events, points awards and streak lengths move users' values.

Runs in the caller's transaction, after the pipeline locked the users (so one user's
updates are serialized and read-modify-write of their entry is exact). Per board and
change it costs: one entry read, one upsert, two bounded rank counts, one threshold read
and one daily-snapshot upsert.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, bindparam, select
from sqlalchemy.ext.asyncio import AsyncConnection

from plaudit.core import fastsql
from plaudit.core.db import insert_for, on_commit
from plaudit.core.fastsql import FastStatement
from plaudit.core.periods import local_date
from plaudit.leaderboards import ranking, redis_ranks, rules, views
from plaudit.leaderboards.ranking import Slot
from plaudit.leaderboards.rules import LeaderboardConfig, Run
from plaudit.leaderboards.tables import leaderboard_days, leaderboard_entries
from plaudit.metrics.rules import SCALE
from plaudit.platform.config import ScopeConfig
from plaudit.points import hooks
from plaudit.streaks import service as streaks
from plaudit.users.rules import UserState
from plaudit.users.service import find as find_user
from plaudit.users.service import to_wire as user_wire
from plaudit.webhooks.outbox import WebhookEvent, emit, wanted

TOP = 10  # rankings carried by leaderboard.changed / .started / .finished


@dataclass(frozen=True, slots=True)
class Contribution:
    """One recorded event, as the leaderboards see it."""

    user: UserState
    metric_id: uuid.UUID | None  # None: a streak length that changed without an event
    value: int  # millionths
    at: dt.datetime
    point_awards: Sequence[hooks.Award] = ()
    streak_length: int | None = None  # after the event; None: streaks off or unchanged


@dataclass(slots=True)
class _Change:
    board: LeaderboardConfig
    run: Run
    delta: int = 0  # millionths to add
    set_to: int | None = None  # streak boards: the new value
    at: dt.datetime | None = None


@dataclass(slots=True)
class Moved:
    board: LeaderboardConfig
    run: Run
    group: str
    rank: int | None
    previous_rank: int | None
    value: int
    previous_value: int | None
    threshold: int


@dataclass(slots=True)
class _Batch:
    events: list[WebhookEvent] = field(default_factory=list)


def _tracked(config: ScopeConfig) -> list[LeaderboardConfig]:
    return [board for board in config.leaderboards if board.status == "active"]


def _changes(config: ScopeConfig, item: Contribution) -> list[_Change]:
    user = item.user
    tz = config.user_zone(user.tz)
    changes: list[_Change] = []
    for board in _tracked(config):
        if not rules.participates(board, user.attributes):
            continue
        if board.rank_by == "metric" and board.metric_id == item.metric_id and item.value:
            local = item.at.astimezone(tz)
            found = rules.run_for_date(board, local.date())
            if found is not None and rules.in_window(board, local.time()):
                changes.append(_Change(board, found, delta=item.value, at=item.at))
        elif board.rank_by == "points":
            changes += _award_changes(config, board, user, item.point_awards)
        elif board.rank_by == "streak" and item.streak_length is not None:
            found = rules.run_for_date(board, local_date(item.at, tz))
            if found is not None:
                changes.append(_Change(board, found, set_to=item.streak_length * SCALE, at=item.at))
    return changes


def _award_changes(
    config: ScopeConfig,
    board: LeaderboardConfig,
    user: UserState,
    awards: Sequence[hooks.Award],
) -> list[_Change]:
    tz = config.user_zone(user.tz)
    changes: list[_Change] = []
    for award in awards:
        if award.system_id != board.points_system_id or not award.awarded:
            continue
        local = award.at.astimezone(tz)
        found = rules.run_for_date(board, local.date())
        if found is not None and rules.in_window(board, local.time()):
            changes.append(_Change(board, found, delta=award.awarded * SCALE, at=award.at))
    return changes


async def after_events(
    conn: AsyncConnection, config: ScopeConfig, items: Sequence[Contribution], now: dt.datetime
) -> list[dict[str, dict[str, Any]]]:
    """The `leaderboards` object of each event's response: the boards whose value for the
    user changed, keyed by board key."""
    if not config.leaderboards:
        return [{} for _ in items]
    batch = _Batch()
    out: list[dict[str, dict[str, Any]]] = []
    for item in items:
        shown: dict[str, dict[str, Any]] = {}
        for change in _changes(config, item):
            moved = await _apply(conn, config, item.user, change, now, batch)
            if moved is not None:
                shown[moved.board.key] = event_view(config, moved)
        out.append(shown)
    await emit(conn, config.scope_id, batch.events, now, interest=config.webhooks)
    return out


async def on_awards(
    conn: AsyncConnection, config: ScopeConfig, awards: Sequence[hooks.Award], now: dt.datetime
) -> None:
    """Points awarded outside an event (time triggers, user creation, API completions)."""
    boards = [board for board in _tracked(config) if board.rank_by == "points"]
    if not boards:
        return
    batch = _Batch()
    for award in awards:
        for board in boards:
            if not rules.participates(board, award.user.attributes):
                continue
            for change in _award_changes(config, board, award.user, [award]):
                await _apply(conn, config, award.user, change, now, batch)
    await emit(conn, config.scope_id, batch.events, now, interest=config.webhooks)


hooks.AWARD_HOOKS.append(on_awards)


async def on_streak_lengths(
    conn: AsyncConnection,
    config: ScopeConfig,
    lengths: Sequence[tuple[UserState, int]],
    now: dt.datetime,
) -> None:
    """Streaks lost, frozen, restored or reset without an event, in the same transaction."""
    if any(board.rank_by == "streak" for board in _tracked(config)):
        items = [Contribution(user, None, 0, now, streak_length=n) for user, n in lengths]
        await after_events(conn, config, items, now)


streaks.LENGTH_HOOKS.append(on_streak_lengths)


def event_view(config: ScopeConfig, moved: Moved) -> dict[str, Any]:
    return {
        **views.config_fields(config, moved.board, run=moved.run),
        "rank": moved.rank,
        "previousRank": moved.previous_rank,
        "threshold": rules.emitted(moved.threshold),
        **views.group_values(moved.board, moved.group),
    }


async def _apply(
    conn: AsyncConnection,
    config: ScopeConfig,
    user: UserState,
    change: _Change,
    now: dt.datetime,
    batch: _Batch,
) -> Moved | None:
    board = change.board
    group = rules.group_of(board, user.attributes)
    if group is None:
        return None
    assert user.pk is not None
    limit = board.max_participants
    key = {"key_board": board.id, "key_run": change.run.start, "key_user": user.pk}
    rows = await fastsql.fetch(conn, _ENTRY, key)
    old = _Stored(**rows[0]) if rows else None
    if old is not None:
        group = old.group_key  # a user stays in the group they entered the run with
    slot = Slot(board.id, change.run.start, group)
    old_value = -old.neg_value if old is not None else 0
    new_value = change.set_to if change.set_to is not None else old_value + change.delta
    if new_value == old_value:
        return None
    reached = change.at or now
    version = 1 if old is None else old.version + 1
    move = (
        await redis_ranks.move(slot, user.id, new_value, reached, limit)
        if await redis_ranks.ready(slot)
        else None
    )
    if move is not None:
        previous_rank, rank = move.previous_position, move.position
        at_limit, after_limit = move.at_limit, move.after_limit
        await _write(conn, key, user, group, new_value, reached, version, old)
    else:
        previous_rank = (
            None
            if old is None
            else await ranking.rank_of(conn, slot, old_value, old.reached_at, user.id, limit)
        )
        await _write(conn, key, user, group, new_value, reached, version, old)
        rank = await ranking.rank_of(conn, slot, new_value, reached, user.id, limit)
        at_limit = _entry(await ranking.at_position(conn, slot, limit))
        after_limit = (
            _entry(await ranking.at_position(conn, slot, limit + 1))
            if previous_rank is None and rank is not None
            else None
        )
    if redis_ranks.client() is not None:

        async def cache() -> None:
            await redis_ranks.apply(slot, user.id, version, new_value, reached)

        on_commit(conn, cache)
    await _snapshot(conn, config, board, change.run, user, rank, new_value, reached)
    moved = Moved(
        board,
        change.run,
        group,
        rank,
        previous_rank,
        new_value,
        old_value if previous_rank is not None else None,
        0 if at_limit is None else at_limit.value,
    )
    # Whoever the move pushed out of the ranking, or let into it: (entry, was, is).
    other: tuple[redis_ranks.Entry, int | None, int | None] | None = None
    if previous_rank is None and rank is not None and after_limit is not None:
        other = (after_limit, limit, None)  # pushed out: was last, now unranked
    elif (
        previous_rank is not None
        and rank is None
        and at_limit is not None
        and at_limit.user_id != user.id
    ):
        other = (at_limit, None, limit)  # let in: now last
    await _webhooks(conn, config, user, moved, slot, other, batch)
    return moved


def _entry(found: ranking.Ranked | None) -> redis_ranks.Entry | None:
    return None if found is None else redis_ranks.Entry(found.user_id, found.value, found.rank)


@dataclass(frozen=True, slots=True)
class _Stored:
    """A user's entry in a run as the database has it before the event."""

    neg_value: int
    reached_at: dt.datetime
    group_key: str
    version: int


_ENTRY_KEY = and_(
    leaderboard_entries.c.leaderboard_id == bindparam("key_board"),
    leaderboard_entries.c.run_start == bindparam("key_run"),
    leaderboard_entries.c.user_pk == bindparam("key_user"),
)
# Every score-changing event runs these: compiled once, sent straight to the driver.
_ENTRY = FastStatement(
    lambda _dialect: select(
        leaderboard_entries.c.neg_value,
        leaderboard_entries.c.reached_at,
        leaderboard_entries.c.group_key,
        leaderboard_entries.c.version,
    ).where(_ENTRY_KEY)
)
_INSERT_ENTRY = FastStatement(lambda dialect: insert_for(dialect, leaderboard_entries))
_UPDATE_ENTRY = FastStatement(lambda _dialect: leaderboard_entries.update().where(_ENTRY_KEY))


def _upsert_day(dialect: str) -> Any:
    statement = insert_for(dialect, leaderboard_days)
    return statement.on_conflict_do_update(
        index_elements=["leaderboard_id", "run_start", "user_pk", "day"],
        set_={"rank": statement.excluded.rank, "value": statement.excluded.value},
    )


_SAVE_DAY = FastStatement(_upsert_day)


async def _write(
    conn: AsyncConnection,
    key: dict[str, Any],
    user: UserState,
    group: str,
    value: int,
    reached: dt.datetime,
    version: int,
    old: _Stored | None,
) -> None:
    values = {"neg_value": -value, "reached_at": reached, "version": version}
    if old is None:
        await fastsql.fetch(
            conn,
            _INSERT_ENTRY,
            {
                **values,
                "leaderboard_id": key["key_board"],
                "run_start": key["key_run"],
                "user_pk": key["key_user"],
                "group_key": group,
                "user_key": user.id.encode(),
            },
        )
    else:
        await fastsql.fetch(conn, _UPDATE_ENTRY, {**key, **values})


async def _snapshot(
    conn: AsyncConnection,
    config: ScopeConfig,
    board: LeaderboardConfig,
    run: Run,
    user: UserState,
    rank: int | None,
    value: int,
    at: dt.datetime,
) -> None:
    """The user's state at the end of their local day so far (history, §9.3)."""
    assert user.pk is not None
    day = local_date(at, config.user_zone(user.tz))
    await fastsql.fetch(
        conn,
        _SAVE_DAY,
        {
            "leaderboard_id": board.id,
            "run_start": run.start,
            "user_pk": user.pk,
            "day": day,
            "rank": rank,
            "value": value,
        },
    )


async def _webhooks(
    conn: AsyncConnection,
    config: ScopeConfig,
    user: UserState,
    moved: Moved,
    slot: Slot,
    other: tuple[redis_ranks.Entry, int | None, int | None] | None,
    batch: _Batch,
) -> None:
    """`rank_changed` for the user, and for whoever their move pushed out of (or let into)
    the ranking; `changed` when the move touched the top of the ranking. Users shifted by
    one place inside the ranking are not told each time (that would be O(maxParticipants)
    rows per event); their next own change reports their rank. Types no active
    subscription wants are not built (nor the reads they need)."""
    if moved.rank != moved.previous_rank and wanted(config.webhooks, "leaderboard.rank_changed"):
        batch.events.append(
            _rank_changed(
                config,
                user,
                moved,
                moved.rank,
                moved.previous_rank,
                moved.value if moved.rank is not None else None,
                moved.previous_value,
            )
        )
        # Read, not locked: locking another user here could deadlock with their own event.
        found = None if other is None else await find_user(conn, config.scope_id, other[0].user_id)
        if other is not None and found is not None:
            entry, previous, now_rank = other
            batch.events.append(
                _rank_changed(
                    config,
                    found,
                    moved,
                    now_rank,
                    previous,
                    entry.value if now_rank is not None else None,
                    entry.value if previous is not None else None,
                )
            )
    touched = [r for r in (moved.rank, moved.previous_rank) if r is not None]
    if touched and min(touched) <= TOP and wanted(config.webhooks, "leaderboard.changed"):
        batch.events.append(
            WebhookEvent(
                "leaderboard.changed",
                {"leaderboard": await with_rankings(conn, config, moved.board, slot, TOP)},
            )
        )


def _rank_changed(
    config: ScopeConfig,
    user: UserState,
    moved: Moved,
    rank: int | None,
    previous_rank: int | None,
    value: int | None,
    previous_value: int | None,
) -> WebhookEvent:
    return WebhookEvent(
        "leaderboard.rank_changed",
        {
            "user": user_wire(user).model_dump(mode="json", by_alias=True),
            "leaderboard": {
                **views.config_fields(config, moved.board, run=moved.run),
                "rank": rank,
                "value": None if value is None else rules.emitted(value),
                "previousRank": previous_rank,
                "previousValue": None if previous_value is None else rules.emitted(previous_value),
            },
        },
    )


async def with_rankings(
    conn: AsyncConnection,
    config: ScopeConfig,
    board: LeaderboardConfig,
    slot: Slot,
    count: int,
    *,
    status: str | None = None,
) -> dict[str, Any]:
    """`LeaderboardResponseWithRankings` of the slot's top `count` (JSON-ready)."""
    top = await ranking.page(conn, slot, 0, min(count, board.max_participants))
    return {
        **views.config_fields(config, board, status=status),
        "rankings": [
            {
                "userId": r.user_id,
                "userName": r.user_name,
                "rank": r.rank,
                "value": rules.emitted(r.value),
            }
            for r in top
        ],
    }
