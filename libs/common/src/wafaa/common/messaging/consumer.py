"""Consuming events at least once, with a reclaimer and a dead-letter stream per consumer group.

Every subscription registers two FastStream subscribers in the service's group:
- a reader (XREADGROUP, batches of new entries), and
- a reclaimer (XAUTOCLAIM) that takes entries left pending longer than `reclaim_idle_ms`:
  by a handler that failed, or by a replica that died in the middle of one.

Entries are acknowledged (XACK) only after their handler returned, so the handler's transaction
has committed. A subscription may handle up to `concurrency` entries of a batch at once (for
handlers that wait on I/O or on a shared batcher, when order within the stream does not matter).

An entry delivered `max_deliveries` times without success, or whose handler raised
`PermanentError`, is appended to `<stream>.dlq` with the reason and then acknowledged.
"""

# No `from __future__ import annotations` here: FastStream reads the subscriber functions'
# annotations at runtime to inject the message.

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from faststream import AckPolicy
from faststream._internal.context import Context as ContextField
from faststream.redis import RedisBroker, RedisRouter, StreamSub
from faststream.redis.message import RedisBatchStreamMessage
from pydantic import ValidationError
from redis.asyncio import Redis

from wafaa.common.config import CommonSettings
from wafaa.common.events import EVENT_ID_HEADER, REQUEST_ID_HEADER, TENANT_HEADER, Event
from wafaa.common.messaging.errors import PermanentError
from wafaa.common.messaging.naming import consumer_name
from wafaa.common.messaging.topology import dead_letter_stream
from wafaa.common.observability.logging import log_context
from wafaa.common.observability.metrics import EVENT_HANDLE_SECONDS, EVENTS_HANDLED

logger = logging.getLogger(__name__)

E = TypeVar("E", bound=Event[Any])
EventHandler = Callable[[E], Awaitable[None]]

DEAD_REASON_HEADER = "x-dead-reason"
DEAD_ENTRY_HEADER = "x-dead-entry-id"
DEAD_DELIVERIES_HEADER = "x-dead-deliveries"
DEAD_GROUP_HEADER = "x-dead-group"


class _AsyncContext(ContextField):
    """FastStream's `Context` field, resolved without a thread-pool hop per batch
    (fast_depends runs a synchronous `use` in a worker thread)."""

    async def use(self, /, **kwargs: Any) -> dict[str, Any]:  # type: ignore[override]
        resolved: dict[str, Any] = super().use(**kwargs)
        return resolved


BatchMessage = Annotated[RedisBatchStreamMessage, _AsyncContext("message")]


@dataclass(frozen=True)
class ConsumerOptions:
    """How one service's consumers read, retry and give up."""

    group: str
    consumer: str
    batch_size: int = 64
    poll_interval_ms: int = 100
    reclaim_idle_ms: int = 30_000
    reclaim_poll_interval_ms: int = 1_000
    max_deliveries: int = 5
    dlq_maxlen: int = 1_000_000

    @classmethod
    def from_settings(cls, settings: CommonSettings, group: str) -> "ConsumerOptions":
        """Options from the service's settings; the group is the service's name."""
        return cls(
            group=group,
            consumer=consumer_name(group, settings.consumer_name),
            batch_size=settings.consumer_batch_size,
            poll_interval_ms=settings.consumer_poll_interval_ms,
            reclaim_idle_ms=settings.reclaim_idle_ms,
            reclaim_poll_interval_ms=settings.reclaim_poll_interval_ms,
            max_deliveries=settings.max_deliveries,
            dlq_maxlen=settings.stream_maxlen,
        )


class EventConsumer:
    """Registers event handlers of one service (one consumer group) on a broker or router."""

    def __init__(self, registrar: RedisBroker | RedisRouter, options: ConsumerOptions, redis: Redis) -> None:
        self._registrar = registrar
        self.options = options
        self._redis = redis
        self.streams: list[str] = []

    def subscribe(self, event_type: type[E], handler: EventHandler[E], *, concurrency: int = 1) -> None:
        """Deliver every event of `event_type` to `handler`, at least once, in this group.

        `concurrency` > 1 runs that many entries of a batch at once: entries are then handled out
        of stream order, so keep 1 where order matters (a conversation's messages).
        """
        opts = self.options
        stream = event_type.stream
        runner = _EntryRunner(event_type, handler, opts, concurrency)
        reader = StreamSub(
            stream,
            group=opts.group,
            consumer=opts.consumer,
            batch=True,
            max_records=opts.batch_size,
            polling_interval=opts.poll_interval_ms,
        )
        reclaimer = StreamSub(
            stream,
            group=opts.group,
            consumer=opts.consumer,
            batch=True,
            min_idle_time=opts.reclaim_idle_ms,
            polling_interval=opts.reclaim_poll_interval_ms,
        )

        redis = self._redis

        async def read(body: list[Any], message: BatchMessage) -> None:
            await runner.run_batch(redis, message, claimed=False)

        async def reclaim(body: list[Any], message: BatchMessage) -> None:
            await runner.run_batch(redis, message, claimed=True)

        read.__name__ = f"{opts.group}_{event_type.__name__}"
        reclaim.__name__ = f"{opts.group}_{event_type.__name__}_reclaim"
        self._registrar.subscriber(
            stream=reader,
            ack_policy=AckPolicy.MANUAL,
            title=f"{stream}:{opts.group}",
            description=f"{opts.group} handles {event_type.__name__}",
        )(read)
        self._registrar.subscriber(
            stream=reclaimer,
            ack_policy=AckPolicy.MANUAL,
            title=f"{stream}:{opts.group}:reclaim",
            include_in_schema=False,
        )(reclaim)
        self.streams.append(stream)


class _EntryRunner:
    """Runs a handler over the entries of one batch and decides ack, retry or dead letter."""

    def __init__(
        self, event_type: type[E], handler: EventHandler[E], options: ConsumerOptions, concurrency: int = 1
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.event_type = event_type
        self.handler: EventHandler[Any] = handler
        self.options = options
        self.concurrency = concurrency
        self.stream = event_type.stream
        self.dlq = dead_letter_stream(self.stream)

    async def run_batch(self, redis: Any, message: Any, *, claimed: bool) -> None:
        raw = message.raw_message
        ids: Sequence[bytes] = raw["message_ids"]
        bodies: list[Any] = await message.decode() or []
        headers: list[dict[str, Any]] = list(getattr(message, "batch_headers", None) or [{}] * len(ids))
        entries = list(zip(ids, bodies, headers, strict=False))
        done: list[bytes] = []
        if self.concurrency == 1:
            for entry_id, body, entry_headers in entries:
                if await self._run_entry(redis, entry_id, body, entry_headers, claimed=claimed):
                    done.append(entry_id)
        else:
            slots = asyncio.Semaphore(self.concurrency)

            async def run(entry_id: bytes, body: Any, entry_headers: dict[str, Any]) -> bool:
                async with slots:
                    return await self._run_entry(redis, entry_id, body, entry_headers, claimed=claimed)

            outcomes = await asyncio.gather(*(run(*entry) for entry in entries))
            done = [entry[0] for entry, ok in zip(entries, outcomes, strict=True) if ok]
        if done:
            await redis.xack(self.stream, self.options.group, *done)

    async def _run_entry(
        self, redis: Any, entry_id: bytes, body: Any, headers: dict[str, Any], *, claimed: bool
    ) -> bool:
        """Handle one entry; True when it may be acknowledged."""
        labels = (self.options.group, self.stream)
        deliveries = await self._deliveries(redis, entry_id) if claimed else 1
        with log_context(
            tenant_id=headers.get(TENANT_HEADER),
            event_id=headers.get(EVENT_ID_HEADER),
            request_id=headers.get(REQUEST_ID_HEADER),
        ):
            if deliveries > self.options.max_deliveries:
                reason = f"gave up after {deliveries - 1} deliveries without success (handler crashed or timed out)"
                await self._dead_letter(redis, entry_id, body, headers, reason, deliveries - 1)
                return True
            try:
                event = self.event_type.model_validate(body)
                if headers.get(TENANT_HEADER) not in (None, str(event.tenant_id)):
                    raise PermanentError("tenant header does not match the event's tenant_id")
            except (ValidationError, PermanentError, TypeError, ValueError) as exc:
                await self._dead_letter(redis, entry_id, body, headers, f"invalid event: {_short(exc)}", deliveries)
                return True

            started = time.perf_counter()
            try:
                await self.handler(event)
            except PermanentError as exc:
                await self._dead_letter(redis, entry_id, body, headers, _short(exc), deliveries)
                return True
            except Exception as exc:
                if deliveries >= self.options.max_deliveries:
                    await self._dead_letter(redis, entry_id, body, headers, _short(exc), deliveries)
                    return True
                EVENTS_HANDLED.labels(*labels, "retry").inc()
                logger.warning(
                    "handler failed; the entry stays pending for the reclaimer",
                    exc_info=True,
                    extra={"stream": self.stream, "entry_id": entry_id.decode(), "deliveries": deliveries},
                )
                return False
            EVENT_HANDLE_SECONDS.labels(*labels).observe(time.perf_counter() - started)
            EVENTS_HANDLED.labels(*labels, "processed").inc()
            return True

    async def _deliveries(self, redis: Any, entry_id: bytes) -> int:
        pending = await redis.xpending_range(self.stream, self.options.group, min=entry_id, max=entry_id, count=1)
        return int(pending[0]["times_delivered"]) if pending else 1

    async def _dead_letter(
        self, redis: Any, entry_id: bytes, body: Any, headers: dict[str, Any], reason: str, deliveries: int
    ) -> None:
        fields = {
            "data": json.dumps(body, default=str, ensure_ascii=False),
            "headers": json.dumps(headers, default=str),
            DEAD_REASON_HEADER: reason,
            DEAD_ENTRY_HEADER: entry_id.decode(),
            DEAD_DELIVERIES_HEADER: str(deliveries),
            DEAD_GROUP_HEADER: self.options.group,
        }
        await redis.xadd(self.dlq, fields, maxlen=self.options.dlq_maxlen)
        EVENTS_HANDLED.labels(self.options.group, self.stream, "dead_lettered").inc()
        logger.error(
            "event moved to the dead-letter stream",
            extra={"stream": self.stream, "dlq": self.dlq, "entry_id": entry_id.decode(), "reason": reason},
        )


def _short(exc: BaseException, limit: int = 500) -> str:
    text = f"{type(exc).__name__}: {exc}"
    return text if len(text) <= limit else text[: limit - 1] + "…"
