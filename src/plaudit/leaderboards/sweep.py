"""The run sweep: announces runs (`leaderboard.started`, activating scheduled boards) and
finalizes them (`leaderboard.finished`, finishing a board after its last run).

Driven by `leaderboards.next_due` (one partial-index range scan); each board's next step
is computed by `rules.next_step` from how many runs were started and finished, so a late
or repeated sweep catches up in order and never announces a run twice.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from plaudit.jobs.registry import Sweep, SweepContext, register_sweep
from plaudit.leaderboards import rules, service
from plaudit.leaderboards.loading import to_config
from plaudit.leaderboards.ranking import Slot
from plaudit.leaderboards.rules import LeaderboardConfig, Run
from plaudit.leaderboards.tables import leaderboard_entries, leaderboards
from plaudit.platform.config import ScopeConfig, bump_config_version
from plaudit.webhooks.outbox import WebhookEvent, emit, wanted

NAME = "leaderboards.runs"
CHUNK = 100


async def announce(
    conn: AsyncConnection,
    config: ScopeConfig,
    board: LeaderboardConfig,
    run: Run,
    kind: str,
    status: str,
    now: dt.datetime,
) -> None:
    """`leaderboard.started` / `.finished` for a run: one event per breakdown group that has
    participants (one event with empty rankings when none has), top 10 each; nothing
    (not even the rankings read) when no active subscription wants the type."""
    if not wanted(config.webhooks, f"leaderboard.{kind}"):
        return
    groups = [
        row[0]
        for row in await conn.execute(
            select(leaderboard_entries.c.group_key)
            .distinct()
            .where(
                leaderboard_entries.c.leaderboard_id == board.id,
                leaderboard_entries.c.run_start == run.start,
            )
        )
    ] or [""]
    events = [
        WebhookEvent(
            f"leaderboard.{kind}",
            {
                "leaderboard": await service.with_rankings(
                    conn,
                    config,
                    board,
                    Slot(board.id, run.start, group),
                    service.TOP,
                    status=status,
                )
            },
        )
        for group in sorted(groups)
    ]
    await emit(conn, config.scope_id, events, now, interest=config.webhooks)


async def _next_due(ctx: SweepContext) -> dt.datetime | None:
    due: dt.datetime | None = await ctx.conn.scalar(
        select(func.min(leaderboards.c.next_due)).where(leaderboards.c.next_due.is_not(None))
    )
    return due


async def _run(ctx: SweepContext) -> int:
    conn, now = ctx.conn, ctx.now
    query = (
        select(leaderboards)
        .where(leaderboards.c.next_due <= now)
        .order_by(leaderboards.c.next_due)
        .limit(CHUNK)
    )
    if conn.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    rows = list(await conn.execute(query))
    for row in rows:
        await _advance(ctx, row)
    return len(rows)


async def _advance(ctx: SweepContext, row: Any) -> None:
    conn, now = ctx.conn, ctx.now
    config = await ctx.runtime.config.get(conn, row.scope_id)
    board = to_config(row, config.attributes_by_id)
    progress = rules.Progress(row.status, row.runs_started, row.runs_finished)
    step = rules.next_step(board, progress)
    while step is not None and step[2] <= now:
        kind, run, _when = step
        progress = rules.apply_step(board, progress, kind)
        shown = "finished" if kind == "finish" and progress.status == "finished" else "active"
        await announce(
            conn, config, board, run, "started" if kind == "start" else "finished", shown, now
        )
        step = rules.next_step(board, progress)
    await conn.execute(
        update(leaderboards)
        .where(leaderboards.c.id == row.id)
        .values(
            status=progress.status,
            runs_started=progress.runs_started,
            runs_finished=progress.runs_finished,
            next_due=step[2] if step else None,
            updated=now,
        )
    )
    if progress.status != row.status:
        await bump_config_version(conn, row.scope_id, ctx.runtime.config)


runs = register_sweep(Sweep(name=NAME, next_due=_next_due, run=_run, catch_up=True))
