"""The shared Redis client: a pooled connection the server closed is replaced, not reported as a failure."""

from __future__ import annotations

import uuid

import pytest
from redis.asyncio import Redis

from tests.fixtures.infrastructure import Infrastructure
from wafaa.common.config import CommonSettings
from wafaa.common.messaging.client import redis_client

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
