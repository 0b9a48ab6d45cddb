"""Status events of the documents in flight, several to a Redis round trip.

With many documents indexed at once, each publishing its `processing` and `ready` statuses alone
would cost a round trip (and, at the same moment, a connection) per event. `async-batcher` queues
the events and publishes what queued up meanwhile in one pipeline, in order, while the previous
pipeline is on its way.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from async_batcher.batcher import AsyncBatcher

from wafaa.common.events import Event

PublishMany = Callable[[list[Event[Any]]], Awaitable[None]]


class _EventBatcher(AsyncBatcher[Event[Any], None]):
    def __init__(self, publish_many: PublishMany, max_events: int) -> None:
        super().__init__(max_batch_size=max(max_events, 2), max_queue_time=0.002, concurrency=1)
        self.publish_many = publish_many

    async def process_batch(self, batch: list[Event[Any]]) -> list[None]:
        await self.publish_many(batch)
        return [None] * len(batch)


class CoalescingPublisher:
    """Publishes one event per call, returning once Redis has it; concurrent calls share a pipeline."""

    def __init__(self, publish_many: PublishMany, *, max_events: int = 256) -> None:
        self._batcher = _EventBatcher(publish_many, max_events)

    async def publish(self, event: Event[Any]) -> None:
        """Publish `event` (together with the events other callers publish meanwhile)."""
        await self._batcher.process(event)

    async def aclose(self) -> None:
        """Publish what is queued and stop the batcher's task."""
        if await self._batcher.is_running():
            await self._batcher.stop(timeout=30)
