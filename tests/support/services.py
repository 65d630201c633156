"""The real services the suite talks to, and what happens when one is missing.

On a laptop without PostgreSQL or Redis those groups skip with a clear message; in CI
(`CI=true`) a missing service fails the run instead.
"""

from __future__ import annotations

import os
import uuid

import pytest

POSTGRES_URL = os.environ.get(
    "PLAUDIT_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("PLAUDIT_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
IN_CI = os.environ.get("CI", "").lower() == "true"


def missing_service(what: str, why: str) -> None:
    message = (
        f"{what} is not reachable ({why}); set it up or point the PLAUDIT_TEST_* variable at it"
    )
    if IN_CI:
        pytest.fail(f"CI requires {message}", pytrace=False)
    pytest.skip(message)


async def create_postgres_database() -> str:
    """A fresh, empty database on the test server; returns its SQLAlchemy URL."""
    import asyncpg
    from sqlalchemy.engine import make_url

    base = make_url(POSTGRES_URL)
    name = f"plaudit_t_{uuid.uuid4().hex[:12]}"
    try:
        conn = await asyncpg.connect(
            base.set(drivername="postgresql").render_as_string(hide_password=False)
        )
    except (OSError, asyncpg.PostgresError) as exc:
        missing_service("PostgreSQL", str(exc))
        raise
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return base.set(drivername="postgresql+asyncpg", database=name).render_as_string(
        hide_password=False
    )


async def drop_postgres_database(url: str) -> None:
    import asyncpg
    from sqlalchemy.engine import make_url

    name = make_url(url).database
    base = make_url(POSTGRES_URL).set(drivername="postgresql")
    conn = await asyncpg.connect(base.render_as_string(hide_password=False))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


async def redis_reachable() -> str | None:
    """None when Redis answers PING, else why not."""
    import redis.asyncio as aioredis

    client = aioredis.from_url(REDIS_URL)
    try:
        await client.ping()
    except Exception as exc:  # any connection failure means "not reachable"
        return str(exc)
    finally:
        await client.aclose()
    return None
