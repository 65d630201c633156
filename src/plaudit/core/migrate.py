"""Schema migrations (Alembic) driven from code: `plaudit migrate`, `serve` and the tests."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.ext.asyncio import AsyncEngine

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    assert head is not None
    return head


async def current_revision(engine: AsyncEngine) -> str | None:
    async with engine.connect() as conn:
        return await conn.run_sync(
            lambda sync_conn: MigrationContext.configure(sync_conn).get_current_revision()
        )


async def upgrade(engine: AsyncEngine, database_url: str) -> None:
    """Bring the database to the newest revision (a no-op when it is already there)."""
    config = alembic_config(database_url)

    def _upgrade(sync_conn: object) -> None:
        config.attributes["connection"] = sync_conn
        command.upgrade(config, "head")

    async with engine.connect() as conn:
        await conn.run_sync(_upgrade)
        await conn.commit()
