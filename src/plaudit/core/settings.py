"""Server settings, read from `PLAUDIT_*` environment variables (and an optional `.env`).

Every field documents itself; an unusable value stops the server before it binds a port.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from limits import parse_many
from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./plaudit.db"


def normalize_database_url(url: str) -> str:
    """Map the URLs people write (`postgres://`, `sqlite:///x.db`) onto the async drivers."""
    for prefix in (
        "postgres://",
        "postgresql://",
        "postgresql+psycopg://",
        "postgresql+psycopg2://",
    ):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix) :]
    if url.startswith("sqlite:///") or url == "sqlite://":
        return "sqlite+aiosqlite://" + url[len("sqlite://") :]
    return url


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="PLAUDIT_", env_file=".env", extra="ignore", validate_default=True
    )

    database_url: str = Field(
        DEFAULT_DATABASE_URL,
        description="SQLAlchemy URL of the database: a SQLite file (the embedded default) or "
        "PostgreSQL (`postgresql://user@host/db`).",
    )
    database_pool_size: int = Field(
        20, ge=1, le=500, description="Connections per process (PostgreSQL only)."
    )
    redis_url: str | None = Field(
        None,
        description="Optional Redis URL (`redis://host:6379/0`) for shared rate-limit counters "
        "and the rank cache of leaderboards.",
    )
    host: str = Field("127.0.0.1", description="Address `plaudit serve` binds to.")
    port: int = Field(8000, ge=1, le=65535, description="Port `plaudit serve` binds to.")
    workers: int = Field(
        1, ge=1, le=64, description="API processes started by `plaudit serve` (use the core count)."
    )
    embedded_worker: bool = Field(
        True,
        description="Run the job worker inside each API process "
        "(`serve --no-worker` turns it off).",
    )
    test_clock: bool = Field(
        False,
        description="Serve the test-clock endpoints and read time from the database clock. "
        "Never enable in production.",
    )
    admin_key: SecretStr | None = Field(
        None,
        description="Bootstrap admin key of the production environment, accepted as given "
        "(at least 24 characters).",
    )
    auth_cache_seconds: float = Field(
        1.0,
        ge=0,
        le=300,
        description="How long a process may reuse a key or tenant lookup when it cannot "
        "receive change notifications (SQLite, or a lost PostgreSQL listener).",
    )
    rate_limit_enabled: bool = Field(
        False, description="Answer 429 once a rate-limit tier is exhausted."
    )
    rate_limit_tier1: str = Field(
        "5/second",
        description="Budget per endpoint for event ingestion, achievement completion and "
        "every Admin API endpoint (`limits` notation, e.g. `5/second;100/minute`).",
    )
    rate_limit_tier2: str = Field(
        "50/second", description="Budget per endpoint for every other Application API endpoint."
    )
    webhook_allow_private: bool = Field(
        False, description="Allow webhook destinations on private and loopback addresses."
    )
    webhook_timeout_seconds: float = Field(
        15.0, gt=0, le=120, description="Timeout of one webhook delivery attempt."
    )
    webhook_retry_schedule: list[int] = Field(
        default_factory=lambda: [60, 300, 1800, 7200, 21600, 43200],
        description="Seconds between webhook delivery attempts (JSON list).",
    )
    webhook_max_in_flight: int = Field(
        64, ge=1, le=10_000, description="Webhook deliveries one worker sends at the same time."
    )
    webhook_connections_per_host: int = Field(
        4,
        ge=1,
        le=1_000,
        description="Webhook deliveries one worker sends at the same time to one destination "
        "(scheme, host and port), so a slow receiver cannot hold up the others.",
    )
    webhook_log_retention_days: int = Field(
        7,
        ge=1,
        le=365,
        description="Days webhook delivery logs, and outbox events no delivery still needs, "
        "are kept.",
    )
    idempotency_retention_days: int | None = Field(
        None,
        ge=1,
        description="Days an Idempotency-Key is remembered; unset keeps keys forever.",
    )
    job_retention_days: int = Field(
        7, ge=1, le=365, description="Days finished background jobs stay in the job table."
    )
    max_leaderboard_participants: int = Field(
        1_000_000, ge=1, description="Upper bound for a leaderboard's maxParticipants."
    )
    worker_poll_seconds: float = Field(
        0.5, gt=0, le=60, description="How often an idle worker looks for due jobs and sweeps."
    )
    worker_sweep_rest: float = Field(
        0.0,
        ge=0,
        le=10,
        description="After each round of sweeps that found work (period ends, time triggers), "
        "the worker rests this many times as long as the round took, so that a sweep over many "
        "users leaves event traffic its latency; 0 sweeps flat out. Queued jobs end the rest.",
    )
    worker_nice: int = Field(
        10,
        ge=0,
        le=19,
        description="Scheduling priority a dedicated `plaudit worker` process lowers itself "
        "by (Unix nice), so that sweeps over many users leave the CPU to event traffic first.",
    )
    max_body_bytes: int = Field(1 << 20, ge=1024, description="Largest request body accepted.")
    max_batch_body_bytes: int = Field(
        10 << 20, ge=1024, description="Largest body accepted by the batch events endpoint."
    )
    log_level: Literal["debug", "info", "warning", "error"] = Field(
        "info", description="Minimum level of the JSON logs."
    )
    access_log: bool = Field(True, description="Log one line per HTTP request.")
    cors_origins: list[str] = Field(
        default_factory=list,
        description="Origins allowed to call the Application API from a browser (JSON list).",
    )

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str) -> str:
        url = normalize_database_url(value)
        if not url.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError(
                f"unsupported database URL {value!r}: use sqlite:///path.db or postgresql://..."
            )
        return url

    @field_validator("redis_url")
    @classmethod
    def _redis_scheme(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        assert value is not None
        if not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError(f"unsupported Redis URL {value!r}: use redis://host:port/db")
        return value

    @field_validator("rate_limit_tier1", "rate_limit_tier2")
    @classmethod
    def _rate_limit_notation(cls, value: str) -> str:
        try:
            parse_many(value)
        except ValueError as exc:
            raise ValueError(f"invalid rate limit {value!r}: {exc}") from exc
        return value

    @field_validator("admin_key")
    @classmethod
    def _admin_key_strength(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 24:
            raise ValueError("PLAUDIT_ADMIN_KEY must be at least 24 characters long")
        return value

    @field_validator("webhook_retry_schedule")
    @classmethod
    def _positive_schedule(cls, value: list[int]) -> list[int]:
        if not value or any(step <= 0 for step in value):
            raise ValueError("webhook_retry_schedule must be a non-empty list of positive seconds")
        return value

    @model_validator(mode="after")
    def _batch_at_least_single(self) -> Settings:
        if self.max_batch_body_bytes < self.max_body_bytes:
            raise ValueError("max_batch_body_bytes must be at least max_body_bytes")
        return self

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
