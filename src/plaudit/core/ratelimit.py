"""Rate limits per endpoint (`limits`, in memory or Redis), off unless configured.

Tier 1 covers event ingestion, achievement completion and the whole Admin API; tier 2
every other Application API endpoint. One budget per endpoint is shared by all callers,
like the hosted service's per-organization budget.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import orjson
from fastapi.routing import APIRoute
from limits import RateLimitItem, parse_many
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter
from starlette.responses import Response
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from plaudit.core.errors import RateLimited
from plaudit.core.settings import Settings


@dataclass(frozen=True, slots=True)
class LimitOutcome:
    limit: int
    remaining: int
    reset_at: float

    def headers(self) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(max(self.remaining, 0)),
            "X-RateLimit-Reset": str(math.ceil(self.reset_at)),
        }


class RateLimiter:
    def __init__(self, settings: Settings) -> None:
        self.storage: Storage
        if settings.redis_url:
            self.storage = RedisStorage("async+" + settings.redis_url, implementation="redispy")
        else:
            self.storage = MemoryStorage()
        self._limiter = MovingWindowRateLimiter(self.storage)
        self._tiers: dict[int, list[RateLimitItem]] = {
            1: parse_many(settings.rate_limit_tier1),
            2: parse_many(settings.rate_limit_tier2),
        }

    async def hit(self, tier: int, endpoint: str) -> LimitOutcome:
        """Count one request; raise 429 (with Retry-After) when a window is exhausted."""
        tightest: LimitOutcome | None = None
        for item in self._tiers[tier]:
            allowed = await self._limiter.hit(item, endpoint)
            stats = await self._limiter.get_window_stats(item, endpoint)
            outcome = LimitOutcome(item.amount, stats.remaining, stats.reset_time)
            if not allowed:
                retry_after = max(1, math.ceil(stats.reset_time - time.time()))
                raise RateLimited(
                    "Rate limit exceeded",
                    headers={"Retry-After": str(retry_after), **outcome.headers()},
                )
            if tightest is None or outcome.remaining < tightest.remaining:
                tightest = outcome
        assert tightest is not None
        return tightest


class RateLimitMiddleware:
    """Counts each request against its endpoint's tier (matched like the router does)."""

    def __init__(
        self, app: ASGIApp, *, limiter: RateLimiter, routes: list[BaseRoute], admin: bool
    ) -> None:
        self.app = app
        self.limiter = limiter
        self.routes = routes
        self.admin = admin

    def _endpoint(self, scope: Scope) -> tuple[int, str] | None:
        for route in self.routes:
            match, _ = route.matches(scope)
            if match == Match.FULL and isinstance(route, APIRoute):
                method = scope["method"]
                tier = (
                    1
                    if self.admin or (method == "POST" and route.path_format in _TIER1_PATHS)
                    else 2
                )
                api = "admin" if self.admin else "app"
                return tier, f"{api}:{method}:{route.path_format}"
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        endpoint = self._endpoint(scope) if scope["type"] == "http" else None
        if endpoint is None:
            await self.app(scope, receive, send)
            return
        try:
            outcome = await self.limiter.hit(*endpoint)
        except RateLimited as exc:
            body = orjson.dumps({"error": exc.message})
            response = Response(
                body, status_code=429, media_type="application/json", headers=exc.headers
            )
            await response(scope, receive, send)
            return
        extra = [
            (name.lower().encode(), value.encode()) for name, value in outcome.headers().items()
        ]

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, send_with_headers)


_TIER1_PATHS = frozenset({"/metrics/{key}/event", "/achievements/{key}/complete"})
