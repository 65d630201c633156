"""The webhooks scenario: how fast deliveries leave the worker, and what a subscription
costs the event ingestion path.

A receiver runs inside the benchmark process (aiohttp.web on 127.0.0.1, answering 200 at
once). It counts every request, deduplicates on `webhook-id` and checks the signatures
(both schemes) of a sample. Every event of the scenario goes to a user that did not exist
before, on a metric with one active achievement at threshold 1: each event completes it
and so emits exactly one `achievement.completed`, which names the user. The client knows
which users it sent, so it knows exactly which webhooks must arrive: each user once.
Delivery is at least once, so a repeated `webhook-id` is counted (and reported) apart; two
different ids for one user, a missing user or a bad signature is a problem.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

from bench import api
from bench.achievements import _failures, cpu_ms_per_event, settle
from bench.load import REQUEST_TIMEOUT_S, Ledger, Recorder, make_session
from bench.scenarios import Context, CpuMeter, outcomes

DELIVERY_TARGET = 500.0  # deliveries/s to a fast local receiver on the 2-core machine
SIGNATURE_SAMPLE = 25  # every 25th request has both signatures checked
DRAIN_TIMEOUT_S = 300.0  # for the deliveries of the ingestion phase to arrive
WEBHOOK_TYPE = "achievement.completed"


# --- the receiver -----------------------------------------------------------------------------


@dataclass(slots=True)
class Arrivals:
    """What arrived for one group of users (one phase): distinct webhooks, first and last."""

    ids: set[str] = field(default_factory=set)
    times: list[float] = field(default_factory=list)  # perf_counter of each new webhook-id

    @property
    def first(self) -> float | None:
        return self.times[0] if self.times else None

    @property
    def last(self) -> float | None:
        return self.times[-1] if self.times else None

    def rate_after(self, share: float) -> float | None:
        """Webhooks per second over the last (1 - share) of them: once the events are all
        in the outbox, this is delivery alone."""
        start = int(len(self.times) * share)
        if len(self.times) - start < 2:
            return None
        span = self.times[-1] - self.times[start]
        return (len(self.times) - 1 - start) / span if span > 0 else None


@dataclass(slots=True)
class Receiver:
    """The fast local receiver: 200 at once, everything counted in memory."""

    secret: str = ""
    url: str = ""
    requests: int = 0
    duplicates: int = 0  # requests with a webhook-id already seen (at-least-once)
    by_id: dict[str, str] = field(default_factory=dict)  # webhook-id -> user id
    per_user: Counter[str] = field(default_factory=Counter)  # distinct webhook-ids per user
    groups: dict[str, Arrivals] = field(default_factory=dict)  # by user id prefix
    other_types: Counter[str] = field(default_factory=Counter)
    signatures_checked: int = 0
    bad_signatures: list[str] = field(default_factory=list)
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def group(self, prefix: str) -> Arrivals:
        return self.groups.setdefault(prefix, Arrivals())

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        now = time.perf_counter()
        self.requests += 1
        headers = request.headers
        webhook_id = headers.get("webhook-id", "")
        if self.requests % SIGNATURE_SAMPLE == 1:
            self._check_signatures(webhook_id, headers, body)
        if webhook_id in self.by_id:
            self.duplicates += 1
            return web.Response(status=200)
        payload = json.loads(body)
        if payload.get("type") != WEBHOOK_TYPE:
            self.other_types[str(payload.get("type"))] += 1
            return web.Response(status=200)
        user = str(payload["user"]["id"])
        self.by_id[webhook_id] = user
        self.per_user[user] += 1
        arrivals = self.group(user.rsplit("-", 1)[0] + "-")
        arrivals.ids.add(webhook_id)
        arrivals.times.append(now)
        self.changed.set()
        return web.Response(status=200)

    def _check_signatures(self, webhook_id: str, headers: Any, body: bytes) -> None:
        """Both schemes of docs/webhooks.md, by hand, and the timestamp within 5 minutes."""
        self.signatures_checked += 1
        secret = self.secret
        timestamp = headers.get("webhook-timestamp", "0")
        key = base64.b64decode(secret.removeprefix("whsec_"))
        signed = f"{webhook_id}.{timestamp}.".encode() + body
        standard = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
        offered = [
            s.split(",", 1)[1]
            for s in headers.get("webhook-signature", "").split()
            if s.startswith("v1,")
        ]
        trophy = base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest())
        problems = []
        if not any(hmac.compare_digest(standard, s) for s in offered):
            problems.append("webhook-signature")
        if not hmac.compare_digest(trophy.decode(), headers.get("x-trophy-signature", "")):
            problems.append("X-Trophy-Signature")
        if abs(time.time() - int(timestamp)) > 300:
            problems.append("webhook-timestamp")
        if headers.get("x-trophy-event-id") != webhook_id:
            problems.append("X-Trophy-Event-Id")
        if problems and len(self.bad_signatures) < 100:
            self.bad_signatures.append(f"{webhook_id}: {', '.join(problems)}")

    async def wait_for(self, prefix: str, count: int, timeout_s: float) -> bool:
        """Until `count` distinct webhooks of the group arrived, or `timeout_s` passed."""
        deadline = time.perf_counter() + timeout_s
        arrivals = self.group(prefix)
        while len(arrivals.ids) < count:
            remaining = deadline - time.perf_counter()
            if remaining <= 0:
                return False
            self.changed.clear()
            try:
                await asyncio.wait_for(self.changed.wait(), timeout=min(remaining, 1.0))
            except TimeoutError:
                continue
        return True


@asynccontextmanager
async def running_receiver() -> AsyncIterator[Receiver]:
    receiver = Receiver()
    app = web.Application()
    app.router.add_post("/hook", receiver.handle)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, backlog=1024)
    await site.start()
    host, port = runner.addresses[0][:2]
    receiver.url = f"http://{host}:{port}/hook"
    try:
        yield receiver
    finally:
        await runner.cleanup()


# --- load -------------------------------------------------------------------------------------


def _body(user_id: str) -> bytes:
    return json.dumps({"user": {"id": user_id}, "value": 1}, separators=(",", ":")).encode()


async def fresh_user_loop(
    session: aiohttp.ClientSession,
    url: str,
    prefix: str,
    *,
    concurrency: int,
    duration_s: float,
    ledger: Ledger,
) -> tuple[Recorder, float, int]:
    """The throughput method (closed loop, `concurrency` senders back to back), but every
    request goes to the next user id `prefix0`, `prefix1`, ...: a user that does not exist
    yet, so every event completes the threshold-1 achievement. Returns (recorder, wall time,
    users sent)."""
    rec = Recorder()
    ids: Iterator[int] = iter(range(10**9))
    started = time.perf_counter()
    deadline = started + duration_s
    sent = 0

    async def sender() -> None:
        nonlocal sent
        while time.perf_counter() < deadline:
            user = f"{prefix}{next(ids)}"
            sent += 1
            ledger.sent.add(user)
            t0 = time.perf_counter_ns()
            try:
                async with session.post(url, data=_body(user)) as resp:
                    payload = await resp.read()
                    status = resp.status
            except (aiohttp.ClientError, TimeoutError) as exc:
                rec.failure(type(exc).__name__, str(exc))
                ledger.unknown[user] += 1
                await asyncio.sleep(0.01)
                continue
            if 200 <= status < 300:
                rec.success(time.perf_counter_ns() - t0, t0)
                ledger.acked[user] += 1
            else:
                rec.failure(f"HTTP {status}", payload.decode(errors="replace"))

    await asyncio.gather(*(sender() for _ in range(concurrency)))
    return rec, time.perf_counter() - started, sent


async def ingestion_phase(ctx: Context, url: str, prefix: str, ledger: Ledger) -> dict[str, Any]:
    plan = ctx.plan
    async with make_session(ctx.target.admin_key, plan.concurrency) as session:
        cpu = CpuMeter(ctx.target)
        rec, elapsed, sent = await fresh_user_loop(
            session,
            url,
            prefix,
            concurrency=plan.concurrency,
            duration_s=plan.duration_s,
            ledger=ledger,
        )
        usage = cpu.read()
    return {
        "concurrency": plan.concurrency,
        "duration_s": elapsed,
        "events_per_s": rec.ok / elapsed,
        "users": sent,
        **outcomes(rec),
        **usage,
    }


async def _subscribe(session: aiohttp.ClientSession, base: str, url: str) -> tuple[str, str]:
    body = [{"url": url, "name": "bench receiver", "events": [WEBHOOK_TYPE]}]
    async with session.post(f"{base}/admin/v1/webhooks", json=body) as resp:
        payload = await resp.text()
        if resp.status != 201:
            raise api.BenchError(f"creating the webhook: HTTP {resp.status} {payload[:300]}")
    found = json.loads(payload)
    if found["issues"] or not found["created"]:
        raise api.BenchError(
            f"creating the webhook: {found['issues']} (the server needs "
            "PLAUDIT_WEBHOOK_ALLOW_PRIVATE=true to call a receiver on 127.0.0.1)"
        )
    item = found["created"][0]
    return str(item["id"]), str(item["secret"])


async def _deliveries(
    session: aiohttp.ClientSession, base: str, webhook_id: str, status: str
) -> list[dict[str, Any]]:
    """Up to 100 of the webhook's deliveries with `status` (the Admin API's page size)."""
    url = f"{base}/admin/v1/webhooks/{webhook_id}/deliveries"
    async with session.get(url, params={"status": status, "limit": "100"}) as resp:
        payload = await resp.text()
        if resp.status != 200:
            raise api.BenchError(f"listing deliveries: HTTP {resp.status} {payload[:300]}")
    found: list[dict[str, Any]] = json.loads(payload)
    return found


async def _archive(session: aiohttp.ClientSession, base: str, webhook_id: str) -> None:
    async with session.delete(f"{base}/admin/v1/webhooks", params={"ids": webhook_id}) as resp:
        payload = await resp.text()
        if resp.status != 200:
            raise api.BenchError(f"deleting the webhook: HTTP {resp.status} {payload[:300]}")


def _cpu_ms(usage: dict[str, float | None], seconds: float, count: int) -> float | None:
    """Server (+ PostgreSQL) CPU milliseconds per webhook over the burst; it includes
    processing the batch events themselves, which the deliveries overlap."""
    server = usage.get("server_cpu_pct")
    if server is None or not count:
        return None
    return (server + (usage.get("database_cpu_pct") or 0.0)) / 100 * seconds / count * 1000


def _exactness(receiver: Receiver, ledger: Ledger) -> dict[str, Any]:
    """Each acknowledged user must have brought exactly one distinct webhook; users whose
    request failed on the client side may have brought one or none."""
    acked = {u for u, n in ledger.acked.items() if n}
    missing = [u for u in acked if receiver.per_user[u] == 0]
    doubled = [u for u in ledger.sent if receiver.per_user[u] > 1]
    stray = [
        u for u in ledger.sent if u not in acked and receiver.per_user[u] and not ledger.unknown[u]
    ]
    return {
        "expected": len(acked),
        "uncertain": sum(1 for u in ledger.sent if u not in acked and ledger.unknown[u]),
        "missing": len(missing),
        "doubled": len(doubled),
        "stray": len(stray),
        "examples": missing[:3] + doubled[:3] + stray[:3],
        "ok": not missing and not doubled and not stray,
    }


async def webhooks(ctx: Context) -> dict[str, Any]:
    """Ingestion without a subscription, then with one (deliveries flowing meanwhile); then
    N events through the batch API and the rate at which their webhooks arrive."""
    plan, target = ctx.plan, ctx.target
    base, key = target.base_url, plan.webhook_metric_key
    prefix = plan.webhook_user_prefix
    event_url = f"{base}/v1/metrics/{key}/event"
    async with running_receiver() as receiver, make_session(target.admin_key, 4) as admin:
        metric_id = await api.create_metric(admin, base, "Webhook events", key)
        definition: dict[str, object] = {
            "name": "First webhook event",
            "trigger": "metric",
            "metricId": metric_id,
            "metricValue": 1,
            "status": "active",
        }
        [achievement_id] = await api.create_achievements(admin, base, [definition])

        # 1. Ingestion without any subscription (no outbox row is written: nobody wants one).
        if plan.warmup_s > 0:
            ctx.note(f"webhooks: warm-up, {plan.warmup_s:g} s")
            async with make_session(target.admin_key, plan.concurrency) as session:
                await fresh_user_loop(
                    session,
                    event_url,
                    f"{prefix}w-",
                    concurrency=plan.concurrency,
                    duration_s=plan.warmup_s,
                    ledger=Ledger(),
                )
        ctx.note(f"webhooks: ingestion without a subscription, {plan.duration_s:g} s")
        without = await ingestion_phase(ctx, event_url, f"{prefix}a-", Ledger())

        # 2. The same with the receiver subscribed: each event's webhook goes out meanwhile.
        # (Idle first, so that phase 1's work is over before it starts.)
        await settle(target)
        webhook_id, receiver.secret = await _subscribe(admin, base, receiver.url)
        ctx.note(f"webhooks: ingestion with a subscription, {plan.duration_s:g} s")
        with_ledger = Ledger()
        with_ = await ingestion_phase(ctx, event_url, f"{prefix}b-", with_ledger)
        sent_done = time.perf_counter()
        with_expected = sum(1 for n in with_ledger.acked.values() if n)
        during = len(receiver.group(f"{prefix}b-").ids)
        ctx.note(f"webhooks: waiting for the {with_expected - during} webhooks still due")
        with_drained = await receiver.wait_for(
            f"{prefix}b-", with_expected, DRAIN_TIMEOUT_S + with_expected / 50
        )
        with_["webhooks_during"] = during
        with_["drain_s"] = time.perf_counter() - sent_done
        with_["drained"] = with_drained
        with_["check"] = _exactness(receiver, with_ledger)
        settled = await settle(target)

        # 3. Delivery throughput: N events through the batch API, as fast as they go out.
        n = plan.webhook_events
        burst_prefix = f"{prefix}c-"
        users = [f"{burst_prefix}{i}" for i in range(n)]
        ctx.note(f"webhooks: {n} events through the batch API, then their deliveries")
        cpu = CpuMeter(target)
        started = time.perf_counter()
        await _post_batches(admin, base, key, users)
        accepted_s = time.perf_counter() - started
        drained = await receiver.wait_for(burst_prefix, n, DRAIN_TIMEOUT_S + n / 50)
        done = time.perf_counter()
        usage = cpu.read()
        burst = receiver.group(burst_prefix)
        await asyncio.sleep(0.5)  # a duplicate sent right after the last one still counts
        pending = await _deliveries(admin, base, webhook_id, "pending")
        failed = await _deliveries(admin, base, webhook_id, "failed")
        await _archive(admin, base, webhook_id)
        await api.archive_achievements(admin, base, [achievement_id])
    burst_ledger = Ledger(sent=set(users), acked=Counter(dict.fromkeys(users, 1)))
    span = (burst.last - burst.first) if burst.first is not None and burst.last else 0.0
    received = len(burst.ids)
    return {
        "database": target.database,
        "metric": key,
        "receiver": receiver.url,
        "without": without,
        "with": with_,
        "ratio": with_["events_per_s"] / without["events_per_s"]
        if without["events_per_s"]
        else None,
        "cpu_ms_per_event": {"without": cpu_ms_per_event(without), "with": cpu_ms_per_event(with_)},
        "settle": settled,
        "delivery": {
            "events": n,
            "accepted_s": accepted_s,
            "received": received,
            "drained": drained,
            "first_after_s": (burst.first - started) if burst.first is not None else None,
            "span_s": span,
            "deliveries_per_s": (received - 1) / span if span > 0 else None,
            "second_half_per_s": burst.rate_after(0.5),
            "server_cpu_ms_per_delivery": _cpu_ms(usage, done - started, received),
            "end_to_end_s": done - started,
            "end_to_end_per_s": received / (done - started),
            "check": _exactness(receiver, burst_ledger),
            **usage,
        },
        "target_per_s": DELIVERY_TARGET,
        "requests": receiver.requests,
        "duplicates": receiver.duplicates,
        "other_types": dict(receiver.other_types),
        "unsubscribed_delivered": len(receiver.group(f"{prefix}a-").ids),
        "signatures_checked": receiver.signatures_checked,
        "bad_signatures": receiver.bad_signatures[:10],
        "left_pending": len(pending),
        "left_failed": len(failed),
        **_failures(without, with_),
    }


async def _post_batches(
    session: aiohttp.ClientSession, base: str, key: str, users: list[str]
) -> None:
    """One value-1 event per user, 1,000 a request, 4 requests at a time."""
    sem = asyncio.Semaphore(4)

    async def send(chunk: list[str]) -> None:
        items = ({"key": key, "user": {"id": u, "tz": api.USER_TZ}, "value": 1} for u in chunk)
        async with sem:
            await api.post_batch(session, base, api.batch_body(items))

    chunks = [users[i : i + api.MAX_BATCH] for i in range(0, len(users), api.MAX_BATCH)]
    await asyncio.wait_for(asyncio.gather(*(send(c) for c in chunks)), REQUEST_TIMEOUT_S * 4)
