"""The Redis client every process uses outside the broker: a pool that waits for a free connection.

redis-py's default pool allows 100 connections and raises `MaxConnectionsError` at once for the
101st. A burst of webhooks (each holding a connection for its claim-and-append) then answered 503
while Redis itself was idle: 1,698 of 5,000 webhooks paced at 500/s in `bench.webhooks`. A blocking
pool queues the request for up to `redis_pool_timeout_seconds` instead, and only then fails.

A pool built this way gives its connections no retry (`Redis.from_url` gives three), so after a Redis
restart the first command on each pooled connection failed on its closed socket. In the fault suite
that was the channel sender's sent-marker write, right after a send Meta had accepted: the reply went
out twice. Connection and timeout errors are retried, on a fresh connection, as `Redis.from_url`
does, with a backoff in milliseconds rather than its seconds.
"""

from __future__ import annotations

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff

from wafaa.common.config import CommonSettings

RETRIES = 3  # after the first attempt, each on a reconnected connection


def command_retry() -> Retry:
    """Retry connection and timeout errors on a reconnected connection: for this client and the broker's."""
    return Retry(ExponentialWithJitterBackoff(base=0.05, cap=0.5), RETRIES)


def redis_client(settings: CommonSettings) -> Redis:
    """A client owning its pool (`aclose` closes it) of at most `redis_max_connections`."""
    pool = BlockingConnectionPool.from_url(
        settings.redis_url.get_secret_value(),
        max_connections=settings.redis_max_connections,
        timeout=settings.redis_pool_timeout_seconds,
        retry=command_retry(),
    )
    return Redis.from_pool(pool)
