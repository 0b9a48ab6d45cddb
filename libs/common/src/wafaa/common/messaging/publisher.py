"""Publishing events onto their streams with a bounded length and the tenant in a header."""

from __future__ import annotations

from typing import Any

from faststream.redis import RedisBroker
from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from wafaa.common.events import Event
from wafaa.common.observability.metrics import EVENTS_PUBLISHED


class EventPublisher:
    """Appends events to their streams. Returns once Redis has the entry (XADD answered).

    With `redis` (a client of the broker's Redis), `publish_many` sends its events in one pipeline.
    """

    def __init__(self, broker: RedisBroker, *, maxlen: int, service: str, redis: Redis | None = None) -> None:
        self._broker = broker
        self._maxlen = maxlen
        self._service = service
        self._redis = redis

    async def publish(self, event: Event[Any], *, request_id: str | None = None) -> None:
        """Publish one event on its own stream."""
        await self._publish(event, request_id)
        EVENTS_PUBLISHED.labels(self._service, event.stream).inc()

    async def _publish(self, event: Event[Any], request_id: str | None, pipeline: Pipeline | None = None) -> None:
        await self._broker.publish(
            event.model_dump_json().encode(),  # serialised once, by pydantic's fast encoder
            stream=event.stream,
            maxlen=self._maxlen,
            headers=event.headers(request_id),
            correlation_id=str(event.event_id),
            pipeline=pipeline,
        )

    async def publish_many(self, events: list[Event[Any]], *, request_id: str | None = None) -> None:
        """Publish several events in order; each lands on its own stream (one round trip with `redis`)."""
        if self._redis is None or len(events) < 2:
            for event in events:
                await self.publish(event, request_id=request_id)
            return
        async with self._redis.pipeline(transaction=False) as pipeline:
            for event in events:
                await self._publish(event, request_id, pipeline)
            await pipeline.execute()
        for event in events:
            EVENTS_PUBLISHED.labels(self._service, event.stream).inc()
