"""The backbone: every service as a process on real Postgres and Redis."""

from __future__ import annotations

import uuid

import httpx
import pytest
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.fixtures.factories import message_received, reply_ready
from tests.fixtures.waiting import eventually
from wafaa.common.messaging import EventPublisher

pytestmark = [pytest.mark.e2e, pytest.mark.integration]


async def count(engine: AsyncEngine, sql: str, **params: object) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(text(sql), params)).scalar_one())


async def test_event_reaches_every_subscribed_group_exactly_once(
    start_service, publisher: EventPublisher, admin_engine: AsyncEngine
) -> None:
    gateway = start_service("gateway")[0]
    for name in ("ingestion", "rag", "channels", "analytics"):
        start_service(name)
    tenant = uuid.uuid4()
    inbound = message_received(tenant)
    outbound = reply_ready(tenant)

    await publisher.publish(inbound)
    await publisher.publish(outbound)

    async def inbox_counts() -> dict[str, int]:
        counts = {}
        for schema in ("ingestion", "rag", "channels", "analytics"):
            counts[schema] = await count(
                admin_engine,
                f"SELECT count(*) FROM {schema}.processed_events WHERE tenant_id = :t AND event_id IN (:a, :b)",
                t=tenant,
                a=inbound.event_id,
                b=outbound.event_id,
            )
        return counts

    # MessageReceived → rag + analytics; ReplyReady → channels + analytics; ingestion reads neither.
    counts = await eventually(inbox_counts, lambda c: c == {"ingestion": 0, "rag": 1, "channels": 1, "analytics": 2})
    assert counts == {"ingestion": 0, "rag": 1, "channels": 1, "analytics": 2}
    assert (
        await count(
            admin_engine,
            "SELECT count(*) FROM rag.messages WHERE tenant_id = :t AND text = :x",
            t=tenant,
            x=inbound.payload.text,
        )
        == 1
    )
    assert await count(admin_engine, "SELECT count(*) FROM channels.deliveries WHERE tenant_id = :t", t=tenant) == 1
    assert (
        await count(admin_engine, "SELECT count(*) FROM analytics.message_insights WHERE tenant_id = :t", t=tenant) == 2
    )

    health = httpx.get(f"{gateway.url}/api/v1/health/database").json()
    assert health["status"] == "ok" and health["checks"]["database"]["status"] == "ok"
    assert httpx.get(f"{gateway.url}/api/v1/health/redis").json()["checks"]["redis"]["status"] == "ok"


async def test_two_replicas_split_200_events_each_handled_once(
    start_service, publisher: EventPublisher, admin_engine: AsyncEngine
) -> None:
    replicas = start_service("rag", replicas=2, consumer_batch_size=10)
    tenant = uuid.uuid4()
    for i in range(200):
        await publisher.publish(message_received(tenant, text=f"question {i}", customer_id=f"c{i % 20}"))

    await eventually(
        lambda: count(
            admin_engine, "SELECT count(*) FROM rag.messages WHERE tenant_id = :t AND direction = 'in'", t=tenant
        ),
        lambda n: n == 200,
        timeout=60,
    )
    per_replica = [r.metric("wafaa_events_handled_total", outcome="processed") for r in replicas]
    assert sum(per_replica) == 200, per_replica
    assert all(n > 0 for n in per_replica), f"one replica did all the work: {per_replica}"
    assert (
        await count(
            admin_engine, "SELECT count(DISTINCT consumer) FROM rag.processed_events WHERE tenant_id = :t", t=tenant
        )
        == 2
    )


async def test_event_published_before_the_service_first_started_is_handled(
    start_service, publisher: EventPublisher, admin_engine: AsyncEngine, redis: Redis
) -> None:
    tenant = uuid.uuid4()
    await publisher.publish(message_received(tenant))
    assert await redis.xinfo_groups("wafaa.message.received") == []  # nobody has ever read this stream

    start_service("analytics")

    n = await eventually(
        lambda: count(admin_engine, "SELECT count(*) FROM analytics.message_insights WHERE tenant_id = :t", t=tenant),
        lambda n: n == 1,
    )
    assert n == 1
