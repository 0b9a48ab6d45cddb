"""A subscription with a batch handler applies a read batch in one transaction, and a poison entry still fails alone.

The handler is the analytics service's own `MessageReceived` subscriber (message insights, hourly
rollups), wrapped as the worker runtime wraps it with `group_commit=True`.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
import pytest_asyncio
from faststream.redis import RedisBroker
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, create_async_engine

from tests.fixtures.factories import message_received
from tests.fixtures.infrastructure import Infrastructure
from wafaa.analytics.database import ProcessedEvent
from wafaa.analytics.insights.handlers import on_message_received
from wafaa.common.db import Database, exactly_once, exactly_once_together
from wafaa.common.events import MessageReceived
from wafaa.common.messaging import ConsumerOptions, EventConsumer, EventPublisher, PermanentError, ensure_groups
from wafaa.common.messaging.topology import dead_letter_stream

pytestmark = [pytest.mark.integration]

GROUP = "group-commit-probe"
POISON = "poison"


@pytest_asyncio.fixture
async def db(infra: Infrastructure) -> AsyncIterator[Database]:
    database = Database(create_async_engine(infra.app_url))
    yield database
    await database.dispose()


async def _consume(
    infra: Infrastructure,
    redis: Redis,
    db: Database,
    events: list[MessageReceived],
    handler: Callable[[AsyncSession, MessageReceived], Awaitable[None]],
    settled: Callable[[], Awaitable[bool]],
) -> None:
    """Publish `events` first (so they are read as one batch), consume them until `settled`."""
    await ensure_groups(redis, {MessageReceived.stream: (GROUP,)})
    broker = RedisBroker(infra.redis_url)
    options = ConsumerOptions(group=GROUP, consumer="probe", poll_interval_ms=20, max_deliveries=2, reclaim_idle_ms=300,
                              reclaim_poll_interval_ms=100)  # fmt: skip
    consumer = EventConsumer(broker, options, redis)
    consumer.subscribe(
        MessageReceived,
        exactly_once(db, ProcessedEvent, GROUP, "probe", handler),
        together=exactly_once_together(db, ProcessedEvent, GROUP, "probe", handler),
    )
    await broker.connect()
    await EventPublisher(broker, maxlen=10_000, service="tests").publish_many(events)
    await broker.start()
    try:
        for _ in range(300):
            pending = (await redis.xpending(MessageReceived.stream, GROUP))["pending"]
            if pending == 0 and await settled():
                return
            await asyncio.sleep(0.05)
        raise AssertionError("the consumer did not settle")
    finally:
        await broker.stop()


async def _insights(admin_engine: AsyncEngine, refs: list[str]) -> dict[str, tuple[uuid.UUID, int]]:
    """message_ref -> (tenant_id, rows) in analytics.message_insights, read as the admin role."""
    async with admin_engine.connect() as conn:
        rows = await conn.execute(
            text(
                "SELECT message_ref, tenant_id, count(*) FROM analytics.message_insights"
                " WHERE message_ref = ANY(:refs) GROUP BY message_ref, tenant_id"
            ),
            {"refs": refs},
        )
        return {ref: (tenant, n) for ref, tenant, n in rows}


async def test_a_batch_of_two_tenants_is_one_transaction_and_each_row_lands_in_its_tenant(
    infra: Infrastructure, redis: Redis, db: Database, admin_engine: AsyncEngine
) -> None:
    tenant_a, tenant_b = uuid.uuid4(), uuid.uuid4()
    events = [message_received(tenant_a if i % 3 else tenant_b, f"Do you have a table for {i}?") for i in range(9)]
    events.append(events[0].model_copy())  # the same event read twice in one batch: applied once
    refs = [e.payload.platform_message_id for e in events]
    transactions: list[int] = []

    async def handle(session: AsyncSession, event: MessageReceived) -> None:
        transactions.append((await session.execute(text("SELECT txid_current()"))).scalar_one())
        await on_message_received(session, event)

    async def settled() -> bool:
        return len(await _insights(admin_engine, refs)) == 9

    await _consume(infra, redis, db, events, handle, settled)

    assert len(transactions) == 9, "each event was handled once, the repeated one not again"
    assert len(set(transactions)) == 1, f"one transaction for the batch, got {len(set(transactions))}"
    found = await _insights(admin_engine, refs)
    assert found == {e.payload.platform_message_id: (e.tenant_id, 1) for e in events}


async def test_a_poison_entry_rolls_the_batch_back_and_only_it_fails(
    infra: Infrastructure, redis: Redis, db: Database, admin_engine: AsyncEngine
) -> None:
    tenant = uuid.uuid4()
    events = [message_received(tenant, f"Is the terrace open at {i}?") for i in range(6)]
    events[3].payload.customer_name = POISON
    refs = [e.payload.platform_message_id for e in events]
    calls: dict[str, int] = {}

    async def handle(session: AsyncSession, event: MessageReceived) -> None:
        ref = event.payload.platform_message_id
        calls[ref] = calls.get(ref, 0) + 1
        await on_message_received(session, event)  # written, then rolled back with the batch
        if event.payload.customer_name == POISON:
            raise PermanentError("this event can never be applied")

    async def settled() -> bool:
        return await redis.xlen(dead_letter_stream(MessageReceived.stream)) == 1

    await _consume(infra, redis, db, events, handle, settled)

    good = [e for i, e in enumerate(events) if i != 3]
    found = await _insights(admin_engine, refs)
    assert found == {e.payload.platform_message_id: (tenant, 1) for e in good}, "each good event applied once"
    # the batch ran up to the poison entry, then every entry ran alone
    assert [calls[e.payload.platform_message_id] for e in events] == [2, 2, 2, 2, 1, 1]
    async with admin_engine.connect() as conn:
        inbox = await conn.execute(
            text("SELECT count(*) FROM analytics.processed_events WHERE consumer_group = :g AND event_id = ANY(:ids)"),
            {"g": GROUP, "ids": [e.event_id for e in events]},
        )
        assert inbox.scalar_one() == 5, "the poison event left no inbox row"
    dead = await redis.xrange(dead_letter_stream(MessageReceived.stream))
    assert str(events[3].event_id) in dead[0][1][b"data"].decode()
