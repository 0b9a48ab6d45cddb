"""Publishing events onto their streams with a bounded length and the tenant in a header."""

from __future__ import annotations

from typing import Any

from faststream.redis import RedisBroker

from wafaa.common.events import Event
from wafaa.common.observability.metrics import EVENTS_PUBLISHED


class EventPublisher:
    """Appends events to their streams. Returns once Redis has the entry (XADD answered)."""

    def __init__(self, broker: RedisBroker, *, maxlen: int, service: str) -> None:
        self._broker = broker
        self._maxlen = maxlen
        self._service = service

    async def publish(self, event: Event[Any], *, request_id: str | None = None) -> None:
        """Publish one event on its own stream."""
        await self._broker.publish(
            event.model_dump_json().encode(),  # serialised once, by pydantic's fast encoder
            stream=event.stream,
            maxlen=self._maxlen,
            headers=event.headers(request_id),
            correlation_id=str(event.event_id),
        )
        EVENTS_PUBLISHED.labels(self._service, event.stream).inc()

    async def publish_many(self, events: list[Event[Any]], *, request_id: str | None = None) -> None:
        """Publish several events; each lands on its own stream."""
        for event in events:
            await self.publish(event, request_id=request_id)
