"""Batches of events: validated in the request, queued as one job, processed in order.

A batch is all-or-nothing at the door (any unknown metric or attribute refuses the whole
batch). In the worker it is processed in one transaction; should one item be refused by
the stored state (say, `subscribeToEmails: true` for a user without an email), the batch
is processed again item by item, each in its own savepoint, and only that item is skipped.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import structlog
from pydantic import BaseModel

from plaudit.core.errors import PlauditError
from plaudit.events import pipeline
from plaudit.events.schemas import BatchMetricEvent
from plaudit.jobs.registry import JobContext, job_kind
from plaudit.platform.config import ScopeConfig
from plaudit.users.rules import check_patch

log = structlog.get_logger("plaudit.events.batch")

MAX_BATCH = 1000


class BatchPayload(BaseModel):
    accepted_at: dt.datetime
    items: list[dict[str, Any]]


def to_input(config: ScopeConfig, item: BatchMetricEvent) -> pipeline.EventInput:
    check_patch(item.user, config.user_attribute_keys)
    return pipeline.validate(
        config,
        metric_key=item.key,
        user=item.user,
        value=item.value,
        attributes=item.attributes,
        idempotency_key=item.idempotency_key,
    )


@job_kind("events.batch", BatchPayload, max_attempts=10)
async def process_batch(ctx: JobContext, payload: BatchPayload) -> None:
    assert ctx.scope_id is not None
    config = await ctx.runtime.config.get(ctx.connection, ctx.scope_id)
    inputs: list[pipeline.EventInput] = []
    for index, raw in enumerate(payload.items):
        try:
            inputs.append(to_input(config, BatchMetricEvent.model_validate(raw)))
        except PlauditError as exc:  # the configuration changed since the batch was accepted
            log.warning("batch_item_skipped", index=index, error=exc.message)
    if not inputs:
        return
    try:
        async with ctx.connection.begin_nested():
            await pipeline.process(ctx.connection, config, inputs, payload.accepted_at)
    except PlauditError:
        for index, item in enumerate(inputs):
            try:
                async with ctx.connection.begin_nested():
                    await pipeline.process(ctx.connection, config, [item], payload.accepted_at)
            except PlauditError as exc:
                log.warning("batch_item_skipped", index=index, user=item.user.id, error=exc.message)
