"""Redis sorted sets as a rank cache, for boards too large to count ranks in SQL.

Why: the database's rank index answers a rank by counting the entries ahead, which costs
O(rank) — fine for the default 1,000 participants, tens of milliseconds at a million. A
sorted set answers ZRANK and ZRANGE by index in O(log n). The database stays the truth:

- one sorted set per (board, run, group) holds the participants with a positive value;
  score = -value (millionths; exact below 2^53), member = `<reached_at µs, 20 digits>|<user
  id>`, so Redis' own order (score, then member bytes) is the ranking order exactly;
- a hash beside it maps user id → `<entry version>|<member>`; every write is a Lua script
  that applies a user's entry only if its version is newer, so updates that arrive out of
  order, and a rebuild racing with events, converge on the database's newest state;
- updates are sent after the transaction commits (`core.db.on_commit`); a slot is used only
  once it has been rebuilt from the database (`:ready`), and a `:fresh` marker that expires
  hourly makes readers rebuild it again in the background (repairing any update lost to a
  crash between a commit and its cache write). Redis must not evict keys (`noeviction`);
- a slot nobody writes for `IDLE_SECONDS` (a finished run, a quiet group) expires, so the
  cache holds only what is in use. Every write renews its keys' expiry, `:ready` first
  by `READY_MARGIN_SECONDS`: a reader never sees `:ready` beside an expired set. The next
  reader rebuilds it from the database, like a lost one.

An event computes its new rank, the threshold and who it pushes out in one script that
applies the change, reads, and reverts it — atomically, so no other client ever sees it
before the database commits it.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
import structlog
from redis.exceptions import RedisError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from plaudit.leaderboards.ranking import Slot
from plaudit.leaderboards.tables import leaderboard_entries
from plaudit.users.tables import users

log = structlog.get_logger("plaudit.leaderboards")

FRESH_SECONDS = 3600
IDLE_SECONDS = 30 * 86400
READY_MARGIN_SECONDS = 60
REBUILD_CHUNK = 5000
SMALL_SLOT = 20_000  # rebuilt inline by the reader that finds it missing; larger: in background

_APPLY = """
local cur = redis.call('HGET', KEYS[2], ARGV[1])
if cur then
  local sep = string.find(cur, '|', 1, true)
  if tonumber(string.sub(cur, 1, sep - 1)) >= tonumber(ARGV[2]) then return 0 end
  redis.call('ZREM', KEYS[1], string.sub(cur, sep + 1))
end
if ARGV[5] == '1' then redis.call('ZADD', KEYS[1], ARGV[3], ARGV[4]) end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2] .. '|' .. ARGV[4])
local idle = tonumber(ARGV[6])
redis.call('EXPIRE', KEYS[1], idle + tonumber(ARGV[7]))
redis.call('EXPIRE', KEYS[2], idle + tonumber(ARGV[7]))
if redis.call('EXISTS', KEYS[3]) == 1 then redis.call('EXPIRE', KEYS[3], idle) end
return 1
"""

_MOVE = """
local cur = redis.call('HGET', KEYS[2], ARGV[1])
local old_member = false
local old_score = false
if cur then
  old_member = string.sub(cur, string.find(cur, '|', 1, true) + 1)
  old_score = redis.call('ZSCORE', KEYS[1], old_member)
end
local previous = -1
if old_score then
  previous = redis.call('ZRANK', KEYS[1], old_member)
  redis.call('ZREM', KEYS[1], old_member)
end
local rank = -1
if ARGV[4] == '1' then
  redis.call('ZADD', KEYS[1], ARGV[2], ARGV[3])
  rank = redis.call('ZRANK', KEYS[1], ARGV[3])
end
local n = tonumber(ARGV[5])
local around = redis.call('ZRANGE', KEYS[1], n - 1, n, 'WITHSCORES')
if ARGV[4] == '1' then redis.call('ZREM', KEYS[1], ARGV[3]) end
if old_score then redis.call('ZADD', KEYS[1], old_score, old_member) end
return {previous, rank, around}
"""


@dataclass(frozen=True, slots=True)
class Entry:
    user_id: str
    value: int  # millionths
    position: int  # 1-based


@dataclass(frozen=True, slots=True)
class Move:
    previous_position: int | None
    position: int | None
    at_limit: Entry | None  # the entry at position maxParticipants after the move
    after_limit: Entry | None  # the entry at maxParticipants + 1 after the move


class _State:
    url: str | None = None
    configured = False
    client: aioredis.Redis | None = None
    rebuilding: set[str] = set()
    tasks: set[asyncio.Task[None]] = set()
    ready_until: dict[str, float] = {}


_state = _State()


def configure(url: str | None) -> None:
    """Use Redis at `url` (None: SQL only). Called once per process with the server's
    `redis_url`; without a call the setting is read from the environment."""
    _state.url, _state.configured, _state.client = url, True, None
    _state.rebuilding = set()
    _state.ready_until = {}


def in_background(work: Coroutine[Any, Any, None]) -> None:
    """Runs `work` in a task that `drain` waits for."""
    task = asyncio.get_running_loop().create_task(work)
    _state.tasks.add(task)  # a reference, so the task is not collected while it runs
    task.add_done_callback(_state.tasks.discard)


async def drain(grace: float = 10.0) -> None:
    """Lets background rebuilds end before the database goes away (a stop calls this);
    past `grace` they are cancelled: a cache left half-built is rebuilt by its next reader."""
    running = {task for task in _state.tasks if task.get_loop() is asyncio.get_running_loop()}
    if not running:
        return
    _done, late = await asyncio.wait(running, timeout=grace)
    for task in late:
        task.cancel()
    if late:
        await asyncio.wait(late, timeout=grace)


def client() -> aioredis.Redis | None:
    if not _state.configured:
        from plaudit.core.settings import Settings

        configure(Settings().redis_url)
    if _state.url is None:
        return None
    if _state.client is None:
        _state.client = aioredis.from_url(_state.url)
    return _state.client


def _key(slot: Slot) -> str:
    return f"plaudit:lb:{slot.board_id}:{slot.run_start.isoformat()}:{slot.group}"


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def member(reached_at: dt.datetime, user_id: str) -> str:
    micros = (reached_at - _EPOCH) // dt.timedelta(microseconds=1) + 10**18  # fixed width
    return f"{micros:020d}|{user_id}"


def _entry(raw_member: bytes, score: bytes | float, position: int) -> Entry:
    user_id = raw_member.decode().split("|", 1)[1]
    return Entry(user_id, -round(float(score)), position)


READY_MEMO_SECONDS = 5.0  # how long a process trusts a slot's `:ready` it has seen


async def ready(slot: Slot) -> bool:
    """Whether events may rank in Redis (the slot has been built from the database); False
    while Redis cannot be reached (the database answers instead)."""
    redis = client()
    if redis is None:
        return False
    key = _key(slot)
    now = time.monotonic()
    if _state.ready_until.get(key, 0.0) > now:
        return True
    try:
        found = bool(await redis.exists(key + ":ready"))
    except RedisError as exc:
        log.warning("leaderboard_cache_unreachable", error=str(exc))
        return False
    if found:
        _state.ready_until[key] = now + READY_MEMO_SECONDS
    return found


async def move(
    slot: Slot, user_id: str, value: int, reached_at: dt.datetime, limit: int
) -> Move | None:
    """The event's ranks as if its change were applied; None if Redis failed."""
    try:
        return await _move(slot, user_id, value, reached_at, limit)
    except RedisError as exc:
        log.warning("leaderboard_cache_unreachable", error=str(exc))
        return None


async def _move(slot: Slot, user_id: str, value: int, reached_at: dt.datetime, limit: int) -> Move:
    redis = client()
    assert redis is not None
    key = _key(slot)
    previous, rank, around = await redis.eval(
        _MOVE,
        2,
        key,
        key + ":who",
        user_id,
        str(-value),
        member(reached_at, user_id),
        "1" if value > 0 else "0",
        str(limit),
    )
    entries = [_entry(around[i], around[i + 1], limit + i // 2) for i in range(0, len(around), 2)]
    return Move(
        previous + 1 if 0 <= previous < limit else None,
        rank + 1 if 0 <= rank < limit else None,
        entries[0] if entries else None,
        entries[1] if len(entries) > 1 else None,
    )


async def apply(
    slot: Slot, user_id: str, version: int, value: int, reached_at: dt.datetime
) -> None:
    """Write a committed entry. A failure is logged, never raised (the transaction has
    committed); the slot is then marked for a rebuild, or refreshed within the hour."""
    redis = client()
    if redis is None:
        return
    key = _key(slot)
    try:
        await _apply(redis, key, user_id, version, value, reached_at)
    except RedisError as exc:
        log.warning("leaderboard_cache_write_failed", error=str(exc))
        _state.ready_until.pop(key, None)
        with contextlib.suppress(RedisError):
            await redis.delete(key + ":ready")


async def _apply(
    redis: aioredis.Redis,
    key: str,
    user_id: str,
    version: int,
    value: int,
    reached_at: dt.datetime,
) -> None:
    args = _apply_args(user_id, version, value, reached_at)
    await redis.eval(_APPLY, 3, *_apply_keys(key), *args)


def _apply_keys(key: str) -> list[str]:
    return [key, key + ":who", key + ":ready"]


def _apply_args(user_id: str, version: int, value: int, reached_at: dt.datetime) -> list[str]:
    return [
        user_id,
        str(version),
        str(-value),
        member(reached_at, user_id),
        "1" if value > 0 else "0",
        str(IDLE_SECONDS),
        str(READY_MARGIN_SECONDS),
    ]


async def position(slot: Slot, reached_at: dt.datetime, user_id: str) -> int | None:
    """1-based position of the user's committed entry; None if absent."""
    redis = client()
    assert redis is not None
    found: Any = await redis.zrank(_key(slot), member(reached_at, user_id))
    return None if found is None else int(found) + 1


async def _when_fresh(slot: Slot, ask: Callable[[Any, str], Any]) -> tuple[bool, Any]:
    """(served, answer): `ask(pipeline, key)` queued behind the slot's ready and fresh
    flags, all in one round trip; `served` is False when the slot is not ready and fresh
    (then `ensure` decides, and the answer means nothing)."""
    redis = client()
    if redis is None:
        return False, None
    key = _key(slot)
    async with redis.pipeline(transaction=False) as pipe:
        pipe.mget(key + ":ready", key + ":fresh")
        ask(pipe, key)
        (is_ready, is_fresh), answer = await pipe.execute()
    return bool(is_ready and is_fresh), answer


async def fresh_position(slot: Slot, reached_at: dt.datetime, user_id: str) -> int | None:
    """The user's 1-based position when the slot is ready and fresh, else None (then
    `ensure` decides). One round trip for both questions: this is every rank read."""
    served, found = await _when_fresh(
        slot, lambda pipe, key: pipe.zrank(key, member(reached_at, user_id))
    )
    return int(found) + 1 if served and found is not None else None


async def fresh_entries(slot: Slot, offset: int, count: int) -> list[Entry] | None:
    """`entries` in one round trip when the slot is ready and fresh, else None."""
    served, rows = await _when_fresh(
        slot,
        lambda pipe, key: pipe.zrange(key, offset, offset + count - 1, withscores=True),
    )
    return [_entry(m, s, offset + i + 1) for i, (m, s) in enumerate(rows)] if served else None


async def entries(slot: Slot, offset: int, count: int) -> list[Entry]:
    redis = client()
    assert redis is not None
    rows: Any = await redis.zrange(_key(slot), offset, offset + count - 1, withscores=True)
    return [_entry(m, s, offset + i + 1) for i, (m, s) in enumerate(rows)]


async def used_memory() -> int | None:
    redis = client()
    if redis is None:
        return None
    info = await redis.info("memory")
    return int(info["used_memory"])


async def rebuild(conn: AsyncConnection, slot: Slot) -> None:
    """Load the slot's entries from the database (versioned, so events that commit
    meanwhile are never overwritten by older rows), then mark it ready and fresh."""
    redis = client()
    assert redis is not None
    key = _key(slot)
    script = redis.register_script(_APPLY)
    last_pk = -1
    while True:
        rows = list(
            await conn.execute(
                select(
                    leaderboard_entries.c.user_pk,
                    users.c.id,
                    leaderboard_entries.c.neg_value,
                    leaderboard_entries.c.reached_at,
                    leaderboard_entries.c.version,
                )
                .join(users, users.c.pk == leaderboard_entries.c.user_pk)
                .where(
                    leaderboard_entries.c.leaderboard_id == slot.board_id,
                    leaderboard_entries.c.run_start == slot.run_start,
                    leaderboard_entries.c.group_key == slot.group,
                    leaderboard_entries.c.user_pk > last_pk,
                )
                .order_by(leaderboard_entries.c.user_pk)
                .limit(REBUILD_CHUNK)
            )
        )
        if not rows:
            break
        async with redis.pipeline(transaction=False) as pipe:
            for row in rows:
                await script(
                    keys=_apply_keys(key),
                    args=_apply_args(row.id, row.version, -row.neg_value, row.reached_at),
                    client=pipe,
                )
            await pipe.execute()
        last_pk = rows[-1].user_pk
    await redis.set(key + ":ready", "1", ex=IDLE_SECONDS)
    await redis.set(key + ":fresh", "1", ex=FRESH_SECONDS)


async def ensure(
    conn: AsyncConnection,
    slot: Slot,
    size: Callable[[], Awaitable[int]],
    spawn: Callable[[Slot], Awaitable[None]] | None,
) -> bool:
    """For readers: True when the slot can be served from Redis. A missing small slot is
    rebuilt at once; a large one (or a stale one) is rebuilt by `spawn` in the background."""
    redis = client()
    if redis is None:
        return False
    key = _key(slot)
    try:
        is_ready, is_fresh = await redis.mget(key + ":ready", key + ":fresh")
    except RedisError as exc:
        log.warning("leaderboard_cache_unreachable", error=str(exc))
        return False
    if is_ready and is_fresh:
        return True
    if not is_ready and await size() <= SMALL_SLOT:
        try:
            await rebuild(conn, slot)
        except RedisError as exc:
            log.warning("leaderboard_cache_unreachable", error=str(exc))
            return False
        return True
    if spawn is not None and key not in _state.rebuilding:
        _state.rebuilding.add(key)

        async def run() -> None:
            try:
                await spawn(slot)
            except Exception:  # a background task: nobody else would see it
                log.exception("leaderboard_cache_rebuild_failed", slot=key)
            finally:
                _state.rebuilding.discard(key)

        in_background(run())
    return bool(is_ready)
