"""publish_once: a claim and its stream entry are written together or not at all."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import ClassVar

import pytest
from faststream.redis import RedisBroker
from redis.asyncio import Redis
from redis.exceptions import ResponseError

from tests.fixtures.factories import message_received
from tests.fixtures.infrastructure import Infrastructure
from wafaa.common.events import MessageReceived
from wafaa.common.messaging import EventPublisher
from wafaa.common.messaging.coalesce import MAX_BATCH

pytestmark = [pytest.mark.integration]


def _probe_type() -> type[MessageReceived]:
    """MessageReceived on a stream of its own, so other tests' entries never mix in."""

    class Probe(MessageReceived):
        stream: ClassVar[str] = f"test.publish-once.{uuid.uuid4().hex}"

    return Probe


async def _entries(redis: Redis, stream: str) -> list[bytes]:
    return [fields[b"__data__"] for _id, fields in await redis.xrange(stream)]


@dataclass
class Probe:
    publisher: EventPublisher
    event: MessageReceived
    claim: str


@pytest.fixture
async def probe(infra: Infrastructure, redis: Redis) -> AsyncIterator[Probe]:
    """A connected publisher, an event on a stream of its own and a fresh claim key; the stream goes after."""
    kind = _probe_type()
    broker = RedisBroker(infra.redis_url)
    await broker.connect()
    try:
        event = kind.model_validate(message_received(uuid.uuid4()).model_dump())
        yield Probe(
            EventPublisher(broker, maxlen=1_000, service="tests", redis=redis), event, f"test:claim:{uuid.uuid4().hex}"
        )
    finally:
        await broker.stop()
        await redis.delete(kind.stream)


async def test_an_entry_is_written_as_publish_writes_it_and_only_for_a_new_claim(probe: Probe, redis: Redis) -> None:
    publisher, event, claim = probe.publisher, probe.event, probe.claim
    await publisher.publish(event, request_id="req-1")
    assert await publisher.publish_once(event, claim=claim, ttl_seconds=60, request_id="req-1") is True
    plain, once = await _entries(redis, event.stream)
    assert once == plain, "consumers read it like any published event"
    assert await redis.get(claim) == str(event.event_id).encode()
    assert 0 < await redis.ttl(claim) <= 60
    assert await publisher.publish_once(event, claim=claim, ttl_seconds=60) is False
    assert len(await _entries(redis, event.stream)) == 2, "a held claim appends nothing"


async def test_a_refused_append_releases_its_claim(probe: Probe, redis: Redis) -> None:
    publisher, event, claim = probe.publisher, probe.event, probe.claim
    await redis.set(event.stream, "not a stream")  # XADD fails with WRONGTYPE inside the script
    with pytest.raises(ResponseError, match="WRONGTYPE"):
        await publisher.publish_once(event, claim=claim, ttl_seconds=60)
    assert await redis.exists(claim) == 0, "no claim outlives a failed append"
    await redis.delete(event.stream)
    assert await publisher.publish_once(event, claim=claim, ttl_seconds=60) is True
    assert len(await _entries(redis, event.stream)) == 1


async def test_concurrent_calls_share_round_trips_and_each_gets_its_own_answer(probe: Probe, redis: Redis) -> None:
    publisher, event = probe.publisher, probe.event
    claims = [f"{probe.claim}:{n % 10}" for n in range(40)]  # ten claims, each asked for four times at once
    answers = await asyncio.gather(*(publisher.publish_once(event, claim=c, ttl_seconds=60) for c in claims))
    assert sorted(c for c, won in zip(claims, answers, strict=True) if won) == sorted(set(claims))
    assert len(await _entries(redis, event.stream)) == 10

    await redis.script_flush()  # as after a Redis restart: the batch is answered NOSCRIPT, loaded, sent again
    fresh = [f"{probe.claim}:after-flush:{n}" for n in range(8)]
    answers = await asyncio.gather(*(publisher.publish_once(event, claim=c, ttl_seconds=60) for c in fresh))
    assert answers == [True] * 8
    assert len(await _entries(redis, event.stream)) == 18


async def test_in_a_shared_round_trip_a_refused_append_fails_only_its_own_call(probe: Probe, redis: Redis) -> None:
    publisher, event = probe.publisher, probe.event
    broken = _probe_type().model_validate(event.model_dump())
    await redis.set(broken.stream, "not a stream")
    try:
        ok, refused = await asyncio.gather(
            publisher.publish_once(event, claim=f"{probe.claim}:ok", ttl_seconds=60),
            publisher.publish_once(broken, claim=f"{probe.claim}:refused", ttl_seconds=60),
            return_exceptions=True,
        )
    finally:
        await redis.delete(broken.stream)
    assert ok is True
    assert isinstance(refused, ResponseError) and "WRONGTYPE" in str(refused)
    assert await redis.exists(f"{probe.claim}:refused") == 0
    assert len(await _entries(redis, event.stream)) == 1


async def test_more_calls_at_once_than_one_script_run_takes_are_all_answered(probe: Probe, redis: Redis) -> None:
    publisher, event = probe.publisher, probe.event
    claims = [f"{probe.claim}:{n}" for n in range(2 * MAX_BATCH + 5)]  # three script runs
    answers = await asyncio.gather(*(publisher.publish_once(event, claim=c, ttl_seconds=60) for c in claims))
    assert answers == [True] * len(claims)
    assert len(await _entries(redis, event.stream)) == len(claims)
    assert await redis.exists(*claims) == len(claims)
