"""Rate limits per endpoint (`limits`, in memory or Redis), off unless configured.

Tier 1 covers event ingestion, achievement completion and the whole Admin API; tier 2
every other Application API endpoint. One budget per endpoint is shared by all callers,
like the hosted service's per-organization budget.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from fastapi import Request
from limits import RateLimitItem, parse_many
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter
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


async def enforce_rate_limit(request: Request) -> None:
    """Sub-app dependency: runs after routing, so it knows the endpoint's template."""
    limiter: RateLimiter | None = request.app.state.runtime.limiter
    if limiter is None:
        return
    admin: bool = request.app.state.admin_api
    route = request.scope.get("route")
    template = getattr(route, "path_format", None) or request.url.path
    method = request.method
    tier = 1 if admin or (method == "POST" and template in _TIER1_PATHS) else 2
    outcome = await limiter.hit(tier, f"{'admin' if admin else 'app'}:{method}:{template}")
    request.state.rate_limit_headers = outcome.headers()


class RateLimitHeaders:
    """Adds the X-RateLimit-* headers that `enforce_rate_limit` left in the request state."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                extra = scope.get("state", {}).get("rate_limit_headers") or {}
                message["headers"] = [
                    *message.get("headers", []),
                    *((name.lower().encode(), value.encode()) for name, value in extra.items()),
                ]
            await send(message)

        await self.app(scope, receive, send_with_headers)


_TIER1_PATHS = frozenset({"/metrics/{key}/event", "/achievements/{key}/complete"})
