"""The Redis client every process uses outside the broker: a pool that waits for a free connection.

redis-py's default pool allows 100 connections and raises `MaxConnectionsError` at once for the
101st. A burst of webhooks (each holding a connection for its claim-and-append) then answered 503
while Redis itself was idle: 1,698 of 5,000 webhooks paced at 500/s in `bench.webhooks`. A blocking
pool queues the request for up to `redis_pool_timeout_seconds` instead, and only then fails.
"""

from __future__ import annotations

from redis.asyncio import BlockingConnectionPool, Redis

from wafaa.common.config import CommonSettings


def redis_client(settings: CommonSettings) -> Redis:
    """A client owning its pool (`aclose` closes it) of at most `redis_max_connections`."""
    pool = BlockingConnectionPool.from_url(
        settings.redis_url.get_secret_value(),
        max_connections=settings.redis_max_connections,
        timeout=settings.redis_pool_timeout_seconds,
    )
    return Redis.from_pool(pool)
