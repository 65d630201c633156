"""The sweeps find their work through an index, whatever the number of users."""

from __future__ import annotations

from sqlalchemy import text

from plaudit.notifications.sweep import NEXT_ACHIEVEMENT, NEXT_SCHEDULED
from tests.conftest import Stack


async def test_the_next_due_lookups_use_the_due_indexes(stack: Stack, backend: str) -> None:
    queries = {
        "ix_notification_schedule_due": NEXT_SCHEDULED,
        "ix_achievement_messages_due": NEXT_ACHIEVEMENT,
    }
    async with stack.runtime.db.transaction() as conn:
        for index, query in queries.items():
            sql = str(query.compile(dialect=conn.dialect))
            if backend == "postgres":
                # Tiny test tables are cheaper to scan: ask whether the index can serve.
                await conn.execute(text("SET LOCAL enable_seqscan = off"))
                plan = "\n".join(r[0] for r in await conn.execute(text(f"EXPLAIN {sql}")))
            else:
                rows = await conn.execute(text(f"EXPLAIN QUERY PLAN {sql}"))
                plan = "\n".join(str(r[-1]) for r in rows)
            assert index in plan, plan
