"""A subscription with `concurrency` handles that many entries of a batch at once, and still acks each."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from faststream.redis import RedisBroker
from redis.asyncio import Redis

from tests.fixtures.factories import message_received
from tests.fixtures.infrastructure import Infrastructure
from wafaa.common.events import MessageReceived
from wafaa.common.messaging import ConsumerOptions, EventConsumer, EventPublisher, ensure_groups

pytestmark = [pytest.mark.integration]

GROUP = "concurrency-probe"


async def _handle_all(infra: Infrastructure, redis: Redis, concurrency: int, events: int) -> tuple[int, set[str]]:
    """Publish `events` messages, consume them with `concurrency`; the most in flight at once and the ids seen."""
    in_flight = 0
    most = 0
    seen: set[str] = set()
    everything = asyncio.Event()

    async def handle(event: MessageReceived) -> None:
        nonlocal in_flight, most
        in_flight += 1
        most = max(most, in_flight)
        await asyncio.sleep(0.05)  # a handler waiting on I/O (the database, a model call)
        in_flight -= 1
        seen.add(event.payload.platform_message_id)
        if len(seen) == events:
            everything.set()

    await ensure_groups(redis, {MessageReceived.stream: (GROUP,)})
    broker = RedisBroker(infra.redis_url)
    consumer = EventConsumer(broker, ConsumerOptions(group=GROUP, consumer="probe-1", poll_interval_ms=20), redis)
    consumer.subscribe(MessageReceived, handle, concurrency=concurrency)
    publisher = EventPublisher(broker, maxlen=10_000, service="tests")
    await broker.connect()
    sent = [message_received(uuid.uuid4()) for _ in range(events)]
    await publisher.publish_many(sent)
    await broker.start()
    try:
        await asyncio.wait_for(everything.wait(), timeout=30)
        pending = (await redis.xpending(MessageReceived.stream, GROUP))["pending"]
        for _ in range(50):
            if pending == 0:
                break
            await asyncio.sleep(0.05)
            pending = (await redis.xpending(MessageReceived.stream, GROUP))["pending"]
    finally:
        await broker.stop()
    assert pending == 0, "every handled entry is acknowledged"
    assert seen == {e.payload.platform_message_id for e in sent}
    return most, seen


async def test_entries_of_a_batch_are_handled_concurrently_up_to_the_limit(infra: Infrastructure, redis: Redis) -> None:
    most, _ = await _handle_all(infra, redis, concurrency=4, events=12)
    assert 2 <= most <= 4


async def test_without_concurrency_entries_are_handled_one_at_a_time(infra: Infrastructure, redis: Redis) -> None:
    most, _ = await _handle_all(infra, redis, concurrency=1, events=6)
    assert most == 1


def test_concurrency_below_one_is_refused() -> None:
    consumer = EventConsumer(RedisBroker("redis://127.0.0.1:1"), ConsumerOptions(group=GROUP, consumer="c"), Redis())

    async def handle(event: MessageReceived) -> None:
        return None

    with pytest.raises(ValueError, match="at least 1"):
        consumer.subscribe(MessageReceived, handle, concurrency=0)


async def test_a_slow_entry_does_not_hold_up_the_batches_behind_it_and_drain_waits_for_it(
    infra: Infrastructure, redis: Redis
) -> None:
    slow_id = "slow"
    finished: list[str] = []

    async def handle(event: MessageReceived) -> None:
        await asyncio.sleep(1.5 if event.payload.platform_message_id == slow_id else 0.01)
        finished.append(event.payload.platform_message_id)

    await ensure_groups(redis, {MessageReceived.stream: (GROUP,)})
    broker = RedisBroker(infra.redis_url)
    options = ConsumerOptions(group=GROUP, consumer="probe-2", batch_size=4, poll_interval_ms=20)
    consumer = EventConsumer(broker, options, redis)
    consumer.subscribe(MessageReceived, handle, concurrency=4)
    publisher = EventPublisher(broker, maxlen=10_000, service="tests")
    await broker.connect()
    slow = message_received(uuid.uuid4())
    slow.payload.platform_message_id = slow_id
    others = [message_received(uuid.uuid4()) for _ in range(20)]
    await publisher.publish_many([slow, *others])
    await broker.start()
    try:
        # batches of 4: the 20 entries read after the slow one's batch are done while it still runs
        for _ in range(100):
            if len(finished) >= 20:
                break
            await asyncio.sleep(0.02)
        assert slow_id not in finished and len(finished) == 20
    finally:
        await broker.stop()
        await consumer.drain(10)
    assert finished[-1] == slow_id
    assert (await redis.xpending(MessageReceived.stream, GROUP))["pending"] == 0
