"""At-least-once delivery with exactly-once effects, under crashes, signals and poison."""

from __future__ import annotations

import asyncio
import json
import signal
import uuid

import pytest
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.fixtures.factories import message_received
from tests.fixtures.infrastructure import Infrastructure
from tests.fixtures.waiting import eventually
from wafaa.common.messaging import EventPublisher

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

STREAM = "wafaa.message.received"


async def rag_messages(engine: AsyncEngine, tenant: uuid.UUID) -> int:
    async with engine.connect() as conn:
        return int(
            (
                await conn.execute(text("SELECT count(*) FROM rag.messages WHERE tenant_id = :t"), {"t": tenant})
            ).scalar_one()
        )


async def pending(redis: Redis, group: str, stream: str = STREAM) -> list[dict]:
    return await redis.xpending_range(stream, group, min="-", max="+", count=100)


class TableLock:
    """Holds an exclusive lock on a table so a handler blocks mid-transaction, as a slow one would."""

    def __init__(self, engine: AsyncEngine, table: str) -> None:
        self.engine, self.table = engine, table

    async def __aenter__(self) -> TableLock:
        self.conn = await self.engine.connect()
        self.tx = await self.conn.begin()
        await self.conn.execute(text(f"LOCK TABLE {self.table} IN ACCESS EXCLUSIVE MODE"))
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.tx.rollback()
        await self.conn.close()


async def test_kill9_mid_handler_the_other_replica_reclaims_and_the_effect_exists_once(
    start_service, publisher: EventPublisher, admin_engine: AsyncEngine, redis: Redis
) -> None:
    replicas = start_service("rag", replicas=2)
    tenant = uuid.uuid4()
    event = message_received(tenant)

    async with TableLock(admin_engine, "rag.messages"):
        await publisher.publish(event)
        entries = await eventually(lambda: pending(redis, "rag"), lambda p: len(p) == 1)
        holder = entries[0]["consumer"].decode()
        victim = next(r for r in replicas if str(r.pid) in holder.rsplit("-", 1)[-1])
        survivor = next(r for r in replicas if r is not victim)
        victim.kill9()  # mid-handler: its transaction is open and blocked on the lock

    assert await eventually(lambda: rag_messages(admin_engine, tenant), lambda n: n == 1, timeout=30) == 1
    await eventually(lambda: pending(redis, "rag"), lambda p: p == [], timeout=15)
    await asyncio.sleep(2)  # a second reclaim round finds nothing left to do
    assert await rag_messages(admin_engine, tenant) == 1
    assert survivor.metric("wafaa_events_handled_total", outcome="processed") == 1


async def test_kill9_mid_handler_a_restarted_worker_finishes_the_event(
    start_service, publisher: EventPublisher, admin_engine: AsyncEngine, redis: Redis
) -> None:
    (worker,) = start_service("rag")
    tenant = uuid.uuid4()
    async with TableLock(admin_engine, "rag.messages"):
        await publisher.publish(message_received(tenant))
        await eventually(lambda: pending(redis, "rag"), lambda p: len(p) == 1)
        worker.kill9()

    start_service("rag")  # a new process, a new consumer name: its reclaimer takes the orphan
    assert await eventually(lambda: rag_messages(admin_engine, tenant), lambda n: n == 1, timeout=30) == 1
    await eventually(lambda: pending(redis, "rag"), lambda p: p == [], timeout=15)


async def test_sigterm_lets_the_handler_in_flight_finish_and_acknowledges_it(
    start_service, publisher: EventPublisher, admin_engine: AsyncEngine, redis: Redis
) -> None:
    (worker,) = start_service("rag")
    tenant = uuid.uuid4()
    async with TableLock(admin_engine, "rag.messages"):
        await publisher.publish(message_received(tenant))
        await eventually(lambda: pending(redis, "rag"), lambda p: len(p) == 1)
        worker.signal(signal.SIGTERM)
        await asyncio.sleep(1.0)  # still shutting down: the handler holds the message
        assert worker.proc is not None and worker.proc.poll() is None
    # uvicorn re-raises the signal once its graceful shutdown is complete
    assert await asyncio.to_thread(worker.wait, 30) in (0, -signal.SIGTERM)
    assert await rag_messages(admin_engine, tenant) == 1
    assert await pending(redis, "rag") == []


async def test_a_message_that_always_fails_goes_to_the_dlq_after_max_deliveries_and_others_flow(
    start_service, publisher: EventPublisher, redis: Redis
) -> None:
    (worker,) = start_service("tests.fixtures.apps.failing_worker", max_deliveries=3, reclaim_idle_ms=300)
    tenant = uuid.uuid4()
    poison = message_received(tenant, text="poison: explode")
    good = [message_received(tenant, text=f"fine {i}") for i in range(5)]

    await publisher.publish(poison)
    for event in good:
        await publisher.publish(event)

    handled = await eventually(lambda: redis.smembers("probe:handled"), lambda s: len(s) == 5)
    assert {m.decode() for m in handled} == {e.payload.platform_message_id for e in good}

    dead = await eventually(lambda: redis.xrange(STREAM + ".dlq"), lambda d: len(d) == 1, timeout=30)
    fields = {k.decode(): v.decode() for k, v in dead[0][1].items()}
    assert fields["x-dead-group"] == "failing-probe"
    assert fields["x-dead-deliveries"] == "3"
    assert "poison pill" in fields["x-dead-reason"]
    assert json.loads(fields["data"])["event_id"] == str(poison.event_id)
    await eventually(lambda: pending(redis, "failing-probe"), lambda p: p == [])

    late = message_received(tenant, text="after the poison")
    await publisher.publish(late)
    await eventually(lambda: redis.sismember("probe:handled", late.payload.platform_message_id), bool)
    assert worker.metric("wafaa_events_handled_total", outcome="dead_lettered") == 1


async def test_an_invalid_event_is_dead_lettered_at_once_by_a_real_service(
    start_service, publisher: EventPublisher, admin_engine: AsyncEngine, redis: Redis
) -> None:
    start_service("rag")
    tenant = uuid.uuid4()
    broken = message_received(tenant).model_dump(mode="json")
    del broken["payload"]["customer_id"]
    await publisher._broker.publish(broken, stream=STREAM, headers={"x-tenant-id": str(tenant)})
    after = message_received(tenant)
    await publisher.publish(after)

    dead = await eventually(lambda: redis.xrange(STREAM + ".dlq"), lambda d: len(d) == 1)
    fields = {k.decode(): v.decode() for k, v in dead[0][1].items()}
    assert fields["x-dead-reason"].startswith("invalid event") and "customer_id" in fields["x-dead-reason"]
    assert fields["x-dead-deliveries"] == "1"
    assert await eventually(lambda: rag_messages(admin_engine, tenant), lambda n: n == 1) == 1


async def test_a_worker_started_while_redis_is_down_waits_for_it_and_then_consumes(
    start_service, infra: Infrastructure, publisher: EventPublisher, admin_engine: AsyncEngine, redis: Redis
) -> None:
    if infra.redis is None:
        pytest.skip("needs the embedded Redis to stop and start it")
    infra.redis.stop()
    try:
        (worker,) = start_service("rag", ready=False)
        await asyncio.sleep(3)  # Redis stays away for a while after the worker started
        assert worker.proc is not None and worker.proc.poll() is None, "the worker waits; it does not exit"
    finally:
        infra.redis.start()
    await asyncio.to_thread(worker.wait_ready, 60)
    tenant = uuid.uuid4()
    await publisher.publish(message_received(tenant))
    assert await eventually(lambda: rag_messages(admin_engine, tenant), lambda n: n == 1, timeout=30) == 1
