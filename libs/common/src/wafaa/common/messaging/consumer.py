"""Consuming events at least once, with a reclaimer and a dead-letter stream per consumer group.

Every subscription registers two FastStream subscribers in the service's group:
- a reader (XREADGROUP, batches of new entries), and
- a reclaimer (XAUTOCLAIM) that takes entries left pending longer than `reclaim_idle_ms`:
  by a handler that failed, or by a replica that died in the middle of one.

Entries are acknowledged (XACK) only after their handler returned, so the handler's transaction
has committed. A subscription may handle up to `concurrency` entries at once (for handlers that wait
on I/O or on a shared batcher, when order within the stream does not matter): the next batch is read
as soon as every entry of the current one has started, so a batch's slowest entry never holds up the
entries behind it; each entry is acknowledged when it is done, and `drain` waits for those in flight.

While an entry waits in its batch or runs, its process renews its claim (XCLAIM JUSTID every third of
`reclaim_idle_ms`), so the reclaimer of this or another replica never takes an entry a live process
is still working on: a slow batch is not handled twice. A process that dies stops renewing, and its
entries are reclaimed after `reclaim_idle_ms` as before; a failed entry is released at once.

A subscription may also give a handler for a whole batch (`together`, one database transaction for
all of it: see `exactly_once_together`). A batch of two or more fresh entries then goes to it in one
call; if it raises, nothing of it is kept and the entries are handled one by one as without it, so a
poison entry still fails (and is retried or dead-lettered) alone.

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
BatchHandler = Callable[[Sequence[E]], Awaitable[None]]

DEAD_REASON_HEADER = "x-dead-reason"
DEAD_ENTRY_HEADER = "x-dead-entry-id"
DEAD_DELIVERIES_HEADER = "x-dead-deliveries"
DEAD_GROUP_HEADER = "x-dead-group"
CANCEL_WAIT_SECONDS = 5.0
INVALID = (ValidationError, PermanentError, TypeError, ValueError)  # what an entry that is no valid event raises


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
        self._runners: list[_EntryRunner] = []

    async def drain(self, seconds: float) -> None:
        """Wait for the entries still being handled (after the broker stopped reading); cancel them
        after `seconds` (they stay pending, and the reclaimer hands them out again)."""
        await asyncio.gather(*(runner.drain(seconds) for runner in self._runners))

    def subscribe(
        self,
        event_type: type[E],
        handler: EventHandler[E],
        *,
        concurrency: int = 1,
        together: BatchHandler[E] | None = None,
    ) -> None:
        """Deliver every event of `event_type` to `handler`, at least once, in this group.

        `concurrency` > 1 runs that many entries at once, across batches: entries are then handled
        out of stream order, so keep 1 where order matters (a conversation's messages).
        `together` (only with `concurrency` 1) takes the events of a fresh batch of two or more in one
        call, in stream order, and must have the same effect as `handler` on each in turn; when it
        raises it must leave no effect, and `handler` then takes each event alone.
        """
        if together is not None and concurrency != 1:
            raise ValueError("a batch handler needs concurrency 1")
        opts = self.options
        stream = event_type.stream
        runner = _EntryRunner(event_type, handler, opts, concurrency, together)
        self._runners.append(runner)
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
        self,
        event_type: type[E],
        handler: EventHandler[E],
        options: ConsumerOptions,
        concurrency: int = 1,
        together: BatchHandler[E] | None = None,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.event_type = event_type
        self.handler: EventHandler[Any] = handler
        self.together: BatchHandler[Any] | None = together
        self.options = options
        self.concurrency = concurrency
        self.stream = event_type.stream
        self.dlq = dead_letter_stream(self.stream)
        # concurrency > 1: slots shared by every batch (reader and reclaimer), the entries running,
        # and the ids done but not yet acknowledged (one XACK for those that finish meanwhile)
        self._slots = asyncio.Semaphore(concurrency)
        self._running: set[asyncio.Task[None]] = set()
        self._unacked: list[bytes] = []
        self._ack_lock = asyncio.Lock()
        # entries read or reclaimed by this process and not yet finished: their claim is renewed
        self._held: set[bytes] = set()
        self._renewer: asyncio.Task[None] | None = None

    async def run_batch(self, redis: Any, message: Any, *, claimed: bool) -> None:
        raw = message.raw_message
        ids: Sequence[bytes] = raw["message_ids"]
        bodies: list[Any] = await message.decode() or []
        headers: list[dict[str, Any]] = list(getattr(message, "batch_headers", None) or [{}] * len(ids))
        entries = list(zip(ids, bodies, headers, strict=False))
        self._hold(redis, ids)
        if self.concurrency == 1:
            done: list[bytes] = []
            try:
                together = self.together is not None and not claimed and len(entries) > 1
                if together and await self._run_together(entries):
                    await redis.xack(self.stream, self.options.group, *ids)
                    return
                for entry_id, body, entry_headers in entries:
                    if await self._run_entry(redis, entry_id, body, entry_headers, claimed=claimed):
                        done.append(entry_id)
                    else:
                        self._held.discard(entry_id)  # failed: the reclaimer retries it after the idle time
                if done:
                    await redis.xack(self.stream, self.options.group, *done)
            finally:
                self._held.difference_update(ids)
            return
        # Start each entry as a slot frees up, and return once all have started: the next batch is
        # read while these run. (If the subscriber is cancelled here, the entries not yet started
        # stay pending.)
        for entry_id, body, entry_headers in entries:
            await self._slots.acquire()
            task = asyncio.create_task(self._run_in_slot(redis, entry_id, body, entry_headers, claimed=claimed))
            self._running.add(task)
            task.add_done_callback(self._running.discard)

    async def _run_together(self, entries: list[tuple[bytes, Any, dict[str, Any]]]) -> bool:
        """Hand the batch to the batch handler; False (nothing applied) when any entry needs handling alone."""
        assert self.together is not None
        try:
            events = [self._event(body, headers) for _, body, headers in entries]
        except INVALID:
            return False  # the per-entry path dead-letters it
        started = time.perf_counter()
        try:
            await self.together(events)
        except Exception:
            logger.info(
                "a batch could not be applied together; its entries are handled one by one",
                exc_info=True,
                extra={"stream": self.stream, "entries": len(events)},
            )
            return False
        labels = (self.options.group, self.stream)
        each = (time.perf_counter() - started) / len(events)
        for _ in events:
            EVENT_HANDLE_SECONDS.labels(*labels).observe(each)
        EVENTS_HANDLED.labels(*labels, "processed").inc(len(events))
        return True

    async def _run_in_slot(
        self, redis: Any, entry_id: bytes, body: Any, headers: dict[str, Any], *, claimed: bool
    ) -> None:
        try:
            if await self._run_entry(redis, entry_id, body, headers, claimed=claimed):
                await self._acknowledge(redis, entry_id)
        except Exception:  # the XACK itself failed: the entry stays pending and is handled again
            logger.exception("could not acknowledge an entry", extra={"stream": self.stream})
        finally:
            self._held.discard(entry_id)
            self._slots.release()

    def _hold(self, redis: Any, ids: Sequence[bytes]) -> None:
        """Renew these entries' claim until they are finished (the renewer starts with the first batch)."""
        self._held.update(ids)
        if self._renewer is None or self._renewer.done():
            self._renewer = asyncio.create_task(self._renew(redis), name=f"renew-{self.stream}")

    async def _renew(self, redis: Any) -> None:
        """Every third of the reclaim idle time, reset the idle time of the entries still held.

        XCLAIM to this consumer with JUSTID neither returns the entries nor counts a delivery; an
        entry acknowledged meanwhile is no longer pending and is skipped.
        """
        interval = max(self.options.reclaim_idle_ms / 3000, 0.05)
        while True:
            await asyncio.sleep(interval)
            held = list(self._held)
            for start in range(0, len(held), 500):
                try:
                    await redis.xclaim(
                        self.stream, self.options.group, self.options.consumer, 0, held[start : start + 500],
                        justid=True,
                    )  # fmt: skip
                except Exception:  # Redis away: the entries may be reclaimed elsewhere, as before
                    logger.warning("could not renew the claim of entries in progress", exc_info=True)

    async def _acknowledge(self, redis: Any, entry_id: bytes) -> None:
        """XACK this entry, together with any that finished while the previous XACK was on its way."""
        self._unacked.append(entry_id)
        async with self._ack_lock:
            if not self._unacked:
                return  # acknowledged by the XACK that just ran
            done, self._unacked = self._unacked, []
            await redis.xack(self.stream, self.options.group, *done)

    async def drain(self, seconds: float) -> None:
        """Wait up to `seconds` for the entries being handled; cancel those still running."""
        if self._running:
            _, late = await asyncio.wait(set(self._running), timeout=seconds)
            for task in late:
                task.cancel()
            if late:  # bounded: a task may swallow its cancellation (see the shutdown watchdog)
                _, stuck = await asyncio.wait(late, timeout=CANCEL_WAIT_SECONDS)
                if stuck:
                    logger.warning("%d handlers of %s ignored their cancellation", len(stuck), self.stream)
        if self._renewer is not None:  # what is left pending goes to the reclaimers
            self._renewer.cancel()
            self._held.clear()

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
                event = self._event(body, headers)
            except INVALID as exc:
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

    def _event(self, body: Any, headers: dict[str, Any]) -> Any:
        """The entry's event; one of INVALID when it is not a valid event of this stream and tenant."""
        event = self.event_type.model_validate(body)
        if headers.get(TENANT_HEADER) not in (None, str(event.tenant_id)):
            raise PermanentError("tenant header does not match the event's tenant_id")
        return event

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
