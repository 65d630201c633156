"""The server under test: a fresh database, a `plaudit serve` process, and its CPU use.

The benchmark starts its own server so that every run measures the same thing: an empty
database (a temporary SQLite file, or a PostgreSQL database created for the run and dropped
afterwards), no access log, warnings-only logging, and no stray `PLAUDIT_*` settings inherited
from the caller's shell or a `.env` file (the server runs in a temporary directory).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aiohttp

DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/test"
READY_TIMEOUT_S = 90.0
STOP_TIMEOUT_S = 15.0


@dataclass(slots=True)
class Target:
    """Where the load goes, and what the report should say about it."""

    base_url: str
    admin_key: str
    database: str  # "sqlite", "postgres", or "external" for --url
    workers: int | None  # None: unknown (an external server)
    database_version: str | None = None
    pid: int | None = None
    log_path: Path | None = None
    postgres_database: str | None = None  # the run's own database, to account its CPU
    notes: list[str] = field(default_factory=list)


def free_port() -> int:
    """A port that was free a moment ago; the tiny race with other programs is acceptable."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def random_admin_key() -> str:
    """A throw-away bootstrap admin key (the server wants at least 24 characters)."""
    return "bench_" + secrets.token_urlsafe(32)


def server_env(database_url: str, admin_key: str) -> dict[str, str]:
    """The caller's environment without any `PLAUDIT_*`, plus the benchmark's settings."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("PLAUDIT_")}
    env.update(
        PLAUDIT_DATABASE_URL=database_url,
        PLAUDIT_ADMIN_KEY=admin_key,
        PLAUDIT_ACCESS_LOG="false",
        PLAUDIT_LOG_LEVEL="warning",
        # The webhooks scenario's receiver listens on 127.0.0.1.
        PLAUDIT_WEBHOOK_ALLOW_PRIVATE="true",
    )
    return env


# --- databases ---------------------------------------------------------------------------


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


def _asyncpg_dsn(url: str) -> str:
    """asyncpg wants plain `postgresql://`, not SQLAlchemy's `postgresql+asyncpg://`."""
    scheme, rest = url.split("://", 1)
    return "postgresql://" + rest if scheme.startswith("postgres") else url


async def create_postgres_database(admin_url: str) -> tuple[str, str, str]:
    """Create an empty database for this run; returns (name, server URL, server version)."""
    import asyncpg

    name = "plaudit_bench_" + secrets.token_hex(4)
    conn = await asyncpg.connect(_asyncpg_dsn(admin_url))
    try:
        version = await conn.fetchval("SHOW server_version")
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return name, _with_database(admin_url, name), f"PostgreSQL {version}"


async def drop_postgres_database(admin_url: str, name: str) -> None:
    """Drop the run's database, disconnecting anything the server may have left behind."""
    import asyncpg

    conn = await asyncpg.connect(_asyncpg_dsn(admin_url))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


def sqlite_version() -> str:
    import sqlite3

    return f"SQLite {sqlite3.sqlite_version}"


# --- the server process --------------------------------------------------------------------


def _open_log(path: Path) -> int:
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)


def log_tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no server log)"


# What `plaudit serve` prints on stdout at start; everything else at `warning` level is news.
_BANNER = ("Application API:", "Admin API:")


def scan_log(path: Path) -> dict[str, Any]:
    """Count the server's log lines by level, leaving out the start-up banner."""
    levels: Counter[str] = Counter()
    first_problems: list[str] = []
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return {"lines": 0, "levels": {}, "first": []}
    lines = [
        line for line in text.splitlines() if line.strip() and not line.strip().startswith(_BANNER)
    ]
    for line in lines:
        try:
            record = json.loads(line)
            level = str(record.get("level", "unknown")) if isinstance(record, dict) else "text"
        except ValueError:
            level = "text"  # uvicorn banners, tracebacks printed outside structlog
        levels[level] += 1
        if level not in ("info", "debug") and len(first_problems) < 5:
            first_problems.append(line[:400])
    return {"lines": len(lines), "levels": dict(levels), "first": first_problems}


async def start_server(
    database_url: str, admin_key: str, workers: int, workdir: Path
) -> tuple[asyncio.subprocess.Process, str, Path]:
    """Start `python -m plaudit serve` on a free port; returns (process, base URL, log path).

    The process gets its own session (process group) so that stopping it also reaches the
    uvicorn worker processes it forks.
    """
    port = free_port()
    log_path = workdir / "server.log"
    log_fd = _open_log(log_path)
    try:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "plaudit",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(workers),
            cwd=workdir,
            env=server_env(database_url, admin_key),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=log_fd,
            stderr=log_fd,
            start_new_session=True,
        )
    finally:
        os.close(log_fd)
    base_url = f"http://127.0.0.1:{port}"
    try:
        await wait_ready(base_url, proc, log_path)
    except BaseException:
        await stop_server(proc)
        raise
    return proc, base_url, log_path


async def wait_ready(
    base_url: str, proc: asyncio.subprocess.Process | None, log_path: Path | None
) -> None:
    """Poll `GET /readyz` until it answers 200 (migrations done, database reachable)."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    last = "no answer"
    timeout = aiohttp.ClientTimeout(total=5)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        while time.monotonic() < deadline:
            if proc is not None and proc.returncode is not None:
                tail = log_tail(log_path) if log_path else ""
                raise RuntimeError(f"server exited with code {proc.returncode}:\n{tail}")
            try:
                async with session.get(base_url + "/readyz") as resp:
                    if resp.status == 200:
                        return
                    last = f"HTTP {resp.status}: {(await resp.text())[:200]}"
            except (aiohttp.ClientError, TimeoutError) as exc:
                last = type(exc).__name__
            await asyncio.sleep(0.2)
    tail = log_tail(log_path) if log_path else ""
    raise RuntimeError(f"server not ready after {READY_TIMEOUT_S:.0f} s ({last}):\n{tail}")


async def stop_server(proc: asyncio.subprocess.Process) -> None:
    """SIGTERM (uvicorn's graceful shutdown), then SIGKILL the process group if it lingers."""
    if proc.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(proc.wait(), STOP_TIMEOUT_S)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
    # Anything of the group still alive (a worker orphaned by a crash) goes too.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


# --- CPU accounting ------------------------------------------------------------------------


def _children(pid: int) -> list[int]:
    kids: list[int] = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as fh:
                kids.extend(int(part) for part in fh.read().split())
    except OSError:
        pass
    return kids


def process_tree_cpu_seconds(pid: int) -> float | None:
    """User+system CPU seconds of `pid` and its live descendants (Linux /proc), else None.

    Shows whether the server saturated the machine's cores during a scenario; the
    client's own share comes from `time.process_time()`.
    """
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    todo = [pid]
    seen: set[int] = set()
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        try:
            with open(f"/proc/{current}/stat") as fh:
                stat = fh.read()
        except OSError:
            if current == pid:
                return None
            continue
        total += _stat_cpu_seconds(stat, tick)
        todo.extend(_children(current))
    return total


def _stat_cpu_seconds(stat: str, tick: int) -> float:
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / tick  # utime, stime


def postgres_backends_cpu(database: str) -> dict[int, float]:
    """CPU seconds per PostgreSQL backend connected to `database` (their process title
    names it, autovacuum workers' at its very end), so that a PostgreSQL run can show the
    database's share of the machine.

    Per process, because backends come and go with the server's connection pool: compare
    two snapshots with `cpu_delta`.
    """
    tick = os.sysconf("SC_CLK_TCK")
    needle = f" {database} ".encode()
    found: dict[int, float] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as fh:
                title = fh.read(512).replace(b"\0", b" ") + b" "
            if not title.startswith(b"postgres:") or needle not in title:
                continue
            with open(f"/proc/{entry}/stat") as fh:
                found[int(entry)] = _stat_cpu_seconds(fh.read(), tick)
        except OSError:
            continue
    return found


def cpu_delta(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU used between two snapshots by the processes alive at the second one (a backend
    that exited in between is missed: an underestimate, never a negative figure)."""
    return sum(max(0.0, cpu - before.get(pid, 0.0)) for pid, cpu in after.items())


def machine_busy_seconds() -> float | None:
    """CPU seconds all processes of the machine have used since boot (/proc/stat), else None.

    Subtracting the server's and the client's share leaves what other programs took during
    a scenario: the sign of a machine that was not quiet enough to trust the figures.
    """
    try:
        with open("/proc/stat") as fh:
            fields = fh.readline().split()
    except OSError:
        return None
    if not fields or fields[0] != "cpu":
        return None
    values = [int(v) for v in fields[1:9]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = values
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


# --- lifecycle -------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def managed_server(database: str, workers: int, pg_admin_url: str) -> AsyncIterator[Target]:
    """Fresh database + server for one run; everything is removed again on exit."""
    workdir = Path(tempfile.mkdtemp(prefix="plaudit-bench-"))
    admin_key = random_admin_key()
    pg_name: str | None = None
    try:
        if database == "postgres":
            pg_name, database_url, version = await create_postgres_database(pg_admin_url)
        else:
            database_url = f"sqlite:///{workdir / 'bench.db'}"
            version = sqlite_version()
        proc, base_url, log_path = await start_server(database_url, admin_key, workers, workdir)
        try:
            yield Target(
                base_url=base_url,
                admin_key=admin_key,
                database=database,
                workers=workers,
                database_version=version,
                pid=proc.pid,
                log_path=log_path,
                postgres_database=pg_name,
            )
        finally:
            await stop_server(proc)
    finally:
        if pg_name is not None:
            await drop_postgres_database(pg_admin_url, pg_name)
        shutil.rmtree(workdir, ignore_errors=True)
