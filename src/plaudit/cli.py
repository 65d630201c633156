"""`plaudit serve | worker | migrate | keys create`."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import sys
import tempfile
from typing import Annotated

import typer
from pydantic import ValidationError
from sqlalchemy import select

from plaudit.core import migrate as migrations
from plaudit.core.clock import DatabaseClock, utcnow
from plaudit.core.db import Database
from plaudit.core.observability import configure_logging
from plaudit.core.settings import Settings, get_settings

app = typer.Typer(
    add_completion=False, no_args_is_help=True, help="Plaudit, a self-hosted gamification engine."
)
keys_app = typer.Typer(no_args_is_help=True, help="Admin API keys.")
app.add_typer(keys_app, name="keys")


def _settings(**overrides: object) -> Settings:
    for name, value in overrides.items():
        if value is not None:
            os.environ[f"PLAUDIT_{name.upper()}"] = str(value)
    get_settings.cache_clear()
    try:
        return get_settings()
    except ValidationError as exc:
        typer.echo("Plaudit cannot start: the configuration is not usable.", err=True)
        for error in exc.errors():
            field = ".".join(str(part) for part in error["loc"]) or "settings"
            typer.echo(f"  PLAUDIT_{field.upper()}: {error['msg']}", err=True)
        raise typer.Exit(2) from None


async def _migrate(settings: Settings) -> None:
    db = Database(settings)
    try:
        await migrations.upgrade(db.write_engine, settings.database_url)
    finally:
        await db.dispose()


async def _create_admin_key(
    settings: Settings, name: str, environment: str, *, only_if_none: bool
) -> str | None:
    from plaudit.platform.api_keys import count_admin_keys, insert_admin_key
    from plaudit.platform.tables import environments

    db = Database(settings)
    try:
        async with db.transaction() as conn:
            if only_if_none and await count_admin_keys(conn) > 0:
                return None
            env_id = await conn.scalar(
                select(environments.c.id).where(
                    environments.c.key == environment, environments.c.status == "active"
                )
            )
            if env_id is None:
                typer.echo(f"No environment with key {environment!r}.", err=True)
                raise typer.Exit(2)
            _row, full_key = await insert_admin_key(conn, env_id, name, utcnow())
            return full_key
    finally:
        await db.dispose()


async def _prepare(settings: Settings) -> str | None:
    """Migrate, reset the test clock, and make a first admin key when there is none."""
    await _migrate(settings)
    if settings.test_clock:
        db = Database(settings)
        try:
            async with db.transaction() as conn:
                await DatabaseClock().reset_to_real_time(conn)
        finally:
            await db.dispose()
    if settings.admin_key is not None:
        return None
    return await _create_admin_key(settings, "default", "production", only_if_none=True)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to bind (default 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Port to bind (default 8000).")] = None,
    workers: Annotated[
        int | None, typer.Option(help="API processes (default 1; use the core count).")
    ] = None,
    no_worker: Annotated[
        bool, typer.Option("--no-worker", help="Do not run the job worker here.")
    ] = False,
) -> None:
    """Migrate the database if needed and serve both APIs."""
    settings = _settings(
        host=host, port=port, workers=workers, embedded_worker=False if no_worker else None
    )
    configure_logging(settings.log_level)
    new_key = asyncio.run(_prepare(settings))
    if new_key:
        typer.echo("")
        typer.echo("  A first admin API key was created for the production environment.")
        typer.echo("  It is shown only this once; keep it somewhere safe:")
        typer.echo("")
        typer.echo(f"      {new_key}")
        typer.echo("")
    typer.echo(f"  Application API: http://{settings.host}:{settings.port}/v1")
    typer.echo(f"  Admin API:       http://{settings.host}:{settings.port}/admin/v1")
    sys.stdout.flush()
    import uvicorn

    metrics_dir = None
    if settings.workers > 1:
        metrics_dir = tempfile.mkdtemp(prefix="plaudit-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    try:
        uvicorn.run(
            "plaudit.api:create_app",
            factory=True,
            host=settings.host,
            port=settings.port,
            workers=settings.workers,
            loop="uvloop",
            http="httptools",
            log_config=None,
            access_log=False,
            timeout_graceful_shutdown=10,
        )
    finally:
        if metrics_dir:
            shutil.rmtree(metrics_dir, ignore_errors=True)


@app.command()
def worker() -> None:
    """Run background jobs and sweeps (scale-out: any number, against PostgreSQL)."""
    settings = _settings()
    configure_logging(settings.log_level)
    if settings.worker_nice and hasattr(os, "nice"):
        # The API answers first: a sweep over a million users must not slow event traffic.
        os.nice(settings.worker_nice)

    async def main() -> None:
        import plaudit.features  # noqa: F401  (registers job kinds and sweeps)
        from plaudit.jobs.worker import WorkerLoop
        from plaudit.runtime import Runtime

        runtime = Runtime.build(settings)
        await runtime.start()
        loop = WorkerLoop(runtime)
        stop = asyncio.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            asyncio.get_running_loop().add_signal_handler(sig, stop.set)
        loop.start()
        try:
            await stop.wait()
        finally:
            await loop.stop()
            await runtime.stop()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())


@app.command()
def migrate() -> None:
    """Create or upgrade the database schema."""
    settings = _settings()
    configure_logging(settings.log_level)
    asyncio.run(_migrate(settings))
    typer.echo(f"Database is at revision {migrations.head_revision()}.")


@keys_app.command("create")
def keys_create(
    name: Annotated[str, typer.Option(help="A name to recognise the key by.")],
    environment: Annotated[str, typer.Option(help="Environment key.")] = "production",
) -> None:
    """Create an admin API key and print it (only this once)."""
    settings = _settings()
    configure_logging(settings.log_level)
    asyncio.run(_migrate(settings))
    key = asyncio.run(_create_admin_key(settings, name, environment, only_if_none=False))
    typer.echo(key)


def main() -> None:
    app()
