"""The shared Redis client: a pooled connection the server closed is replaced, not reported as a failure."""

from __future__ import annotations

import uuid

import pytest
from redis.asyncio import Redis

from tests.fixtures.infrastructure import Infrastructure
from wafaa.common.config import CommonSettings
from wafaa.common.messaging.client import redis_client
from wafaa.common.runtime.worker import make_broker

pytestmark = [pytest.mark.integration]


async def test_a_command_on_a_connection_the_server_closed_succeeds_on_a_fresh_one(
    infra: Infrastructure, redis: Redis
) -> None:
    client = redis_client(CommonSettings(redis_url=infra.redis_url, redis_max_connections=1))
    try:
        await client.ping()  # the pool's one connection is open and idle
        connection_id = await client.client_id()
        killed = await redis.client_kill_filter(_id=connection_id)  # as a Redis restart closes it
        assert killed == 1
        key = f"test:redis-client:{uuid.uuid4().hex}"
        assert await client.set(key, "sent", ex=60) is True
        assert await redis.get(key) == b"sent"
        assert await client.client_id() != connection_id  # it reconnected
    finally:
        await client.aclose()


async def test_the_broker_publishes_on_a_fresh_connection_after_the_server_closed_its_own(
    infra: Infrastructure, redis: Redis
) -> None:
    broker = make_broker(CommonSettings(redis_url=infra.redis_url))
    await broker.connect()
    try:
        stream = f"test:redis-client:{uuid.uuid4().hex}"
        await broker.publish(b"first", stream=stream)
        clients = await redis.client_list()
        mine = await redis.client_id()
        killed = [await redis.client_kill_filter(_id=int(c["id"])) for c in clients if int(c["id"]) != mine]
        assert sum(killed) >= 1  # the broker's connection among them, as a Redis restart closes it
        await broker.publish(b"second", stream=stream)
        assert await redis.xlen(stream) == 2
    finally:
        await broker.stop()
