"""The migrated schema is exactly what the table definitions say, on both databases."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from plaudit.core import migrate
from plaudit.core.tables import metadata
from tests.conftest import Stack


async def test_migrations_match_the_models(stack: Stack) -> None:
    def diff(sync_conn: object) -> list[object]:
        context = MigrationContext.configure(sync_conn, opts={"compare_type": True})  # type: ignore[arg-type]
        return list(compare_metadata(context, metadata))

    async with stack.runtime.db.read_engine.connect() as conn:
        differences = await conn.run_sync(diff)
    assert differences == []


async def test_the_database_is_at_the_newest_revision(stack: Stack) -> None:
    assert await migrate.current_revision(stack.runtime.db.read_engine) == migrate.head_revision()
