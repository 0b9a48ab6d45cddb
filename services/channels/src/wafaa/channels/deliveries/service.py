"""Delivering replies on WhatsApp and Instagram, exactly once wherever the platform lets us.

A reply goes through three steps, committed as they happen so a crash leaves a trace:
1. intent: the delivery row is written (or found) before any platform call;
2. each part is sent, and its platform id is recorded right after the platform accepted it;
3. the outcome (sent, outside the 24-hour window, failed) is recorded and published. "sent" commits
   in the same transaction as the last part's id: nothing can happen between the two.

A redelivered `ReplyReady` finds the delivery and the parts already recorded and sends nothing
again. Two copies handled at the same moment (by two replicas) are serialised by a lock per reply in
Redis, held and renewed while the reply is being sent: the second copy waits for the lock and then
finds the reply sent. A crashed holder's lock expires `SEND_LOCK_SECONDS` later, well within that wait,
and its reply is taken up again. The only window for a duplicate is between the platform accepting a
part and step 2's commit of its id: a crash exactly there resends that part once, and so does a send
the platform accepted but whose answer came after `GRAPH_TIMEOUT_SECONDS` (the client tries it again
and logs `SEND_TIMED_OUT`). (A holder stalled past `SEND_LOCK_SECONDS` without renewing its lock would
open a second one.)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from redis.asyncio import Redis
from redis.exceptions import LockError
from sqlalchemy.ext.asyncio import AsyncSession

from wafaa.channels.deliveries.models import FINAL_FAILURES, STATUS_RANK
from wafaa.channels.deliveries.repository import DeliveryRepository, PartRepository, WindowRepository
from wafaa.common.channels import SENT_MARKER_TTL, ChannelDirectory, ChannelRecord, sent_marker
from wafaa.common.db import Database
from wafaa.common.events import (
    ChannelPaused,
    ChannelPausedPayload,
    DeliveryStatusChanged,
    MessageReceived,
    ReplyDeliveryPayload,
    ReplyFailed,
    ReplyReady,
    ReplySent,
)
from wafaa.common.messaging import EventPublisher, TransientError
from wafaa.common.meta import GraphClient, GraphError, split_message

logger = logging.getLogger(__name__)

SEND_LOCK_SECONDS = 10.0  # a reply's send lock lives this long unless renewed (every third of it)
SEND_LOCK_WAIT_SECONDS = 2 * SEND_LOCK_SECONDS  # a second copy waits this long for the lock, then retries later


@dataclass
class Outcome:
    status: str
    error_code: str | None = None
    error_message: str | None = None


class ReplySender:
    """Sends `ReplyReady` events through the Graph API."""

    def __init__(
        self,
        db: Database,
        graph: GraphClient,
        directory: ChannelDirectory,
        publisher: EventPublisher,
        redis: Redis,
        window: timedelta,
    ) -> None:
        self.db, self.graph, self.directory, self.publisher, self.redis = db, graph, directory, publisher, redis
        self.window = window

    async def deliver(self, event: ReplyReady) -> None:
        """Send one reply (all its parts), or record why it was not sent."""
        p = event.payload
        if p.channel == "web":  # the dashboard's test chat answers over HTTP, not through a platform
            return
        async with self._send_lock(event):
            await self._deliver(event)

    @contextlib.asynccontextmanager
    async def _send_lock(self, event: ReplyReady) -> AsyncIterator[None]:
        """Held while this reply is being sent; TransientError when another process held it all along."""
        lock = self.redis.lock(
            f"tenant:{event.tenant_id}:delivery:{event.payload.message_id}",
            timeout=SEND_LOCK_SECONDS,
            sleep=0.1,
            blocking_timeout=SEND_LOCK_WAIT_SECONDS,
        )
        if not await lock.acquire():
            raise TransientError("this reply is still being sent by another process")

        sent = asyncio.Event()

        async def renew() -> None:
            while True:
                try:
                    await asyncio.wait_for(sent.wait(), SEND_LOCK_SECONDS / 3)
                    return
                except TimeoutError:
                    await lock.reacquire()

        # Asked to stop rather than cancelled: a cancellation delivered inside a Redis call can be
        # swallowed there, and an endless renewal would then hold the reply and its lock forever.
        renewing = asyncio.create_task(renew())
        try:
            yield
        finally:
            sent.set()
            await asyncio.wait({renewing}, timeout=SEND_LOCK_SECONDS / 3)
            if not renewing.done():
                renewing.cancel()
            elif not renewing.cancelled() and not isinstance(error := renewing.exception(), LockError | None):
                raise error  # a lost lock (LockError) is said below
            try:
                await lock.release()
            except LockError:
                logger.warning("a reply's send lock expired before it was released")

    async def _deliver(self, event: ReplyReady) -> None:
        p = event.payload
        tenant = event.tenant_id
        async with self.db.transaction(tenant) as session:
            deliveries = DeliveryRepository(session, tenant)
            delivery = await deliveries.record_intent(
                message_id=p.message_id, conversation_id=p.conversation_id, channel=p.channel,
                channel_id=p.channel_id, recipient_id=p.recipient_id, text=p.text,
            )  # fmt: skip
            if delivery.status != "sending":  # already delivered or given up: tell again, send nothing
                await self._announce(event, Outcome(delivery.status, delivery.error_code), delivery.id)
                return
            refusal, channel = await self._refusal(session, event)
            if refusal is not None or channel is None:
                outcome = refusal or Outcome("failed", "channel_missing", "no such channel")
                await deliveries.set_status(delivery.id, outcome.status, error_code=outcome.error_code,
                                            error_message=outcome.error_message)  # fmt: skip
                await self._announce(event, outcome, delivery.id)
                return
            resumed = delivery.attempts > 0  # parts exist only once an attempt has started
            await deliveries.set_status(delivery.id, "sending", attempts=delivery.attempts + 1)
            already = await PartRepository(session, tenant).sent_parts(delivery.id) if resumed else {}
            delivery_id = delivery.id

        parts = split_message(p.text, channel.platform)
        ids: list[str] = []
        try:
            for ordinal, part in enumerate(parts):
                if ordinal in already:
                    ids.append(already[ordinal])
                    continue
                last = ordinal == len(parts) - 1
                result = await self.graph.send_text(
                    channel.credentials, p.recipient_id, part,
                    reply_to=p.in_reply_to_platform_message_id if ordinal == 0 else None,
                    options=p.options if last else None,
                )  # fmt: skip
                await self.redis.set(sent_marker(tenant, result.platform_message_id), "1", ex=SENT_MARKER_TTL)
                ids.append(result.platform_message_id)
                async with self.db.transaction(tenant) as session:
                    await PartRepository(session, tenant).record(delivery_id, ordinal, result.platform_message_id)
                    if last:  # the outcome commits with the last part's id (step 3 in step 2's transaction)
                        await self._record_sent(session, event, delivery_id, ids, len(parts))
        except GraphError as exc:
            if exc.retryable:
                raise TransientError(f"graph api still failing after retries: {exc}") from exc
            await self._give_up(event, delivery_id, channel, exc)
            return
        if len(already) == len(parts):  # every part had been sent before: only the outcome is missing
            async with self.db.transaction(tenant) as session:
                await self._record_sent(session, event, delivery_id, ids, len(parts))
        await self._announce(event, Outcome("sent"), delivery_id, ids[0] if ids else None)

    @staticmethod
    async def _record_sent(
        session: AsyncSession, event: ReplyReady, delivery_id: uuid.UUID, ids: list[str], parts: int
    ) -> None:
        await DeliveryRepository(session, event.tenant_id).set_status(
            delivery_id, "sent", platform_message_id=ids[0] if ids else None, parts=parts
        )

    async def _refusal(self, session: AsyncSession, event: ReplyReady) -> tuple[Outcome | None, ChannelRecord | None]:
        p = event.payload
        channel = await self.directory.get(session, p.channel_id) if p.channel_id else None
        if channel is None:
            return Outcome("failed", "channel_missing", "the channel is not connected"), None
        if channel.paused:
            return Outcome("skipped", "channel_paused", "the channel is paused"), channel
        last = await WindowRepository(session, event.tenant_id).last_inbound(p.channel, p.recipient_id)
        if p.customer_wrote_at is not None and (last is None or p.customer_wrote_at > last):
            last = p.customer_wrote_at  # the customer's message itself may still be queued for this service
        if last is None or datetime.now(UTC) - last > self.window:
            return Outcome("outside_window", "131047", "more than 24 hours since the customer last wrote"), channel
        return None, channel

    async def _give_up(
        self, event: ReplyReady, delivery_id: uuid.UUID, channel: ChannelRecord, exc: GraphError
    ) -> None:
        status = "outside_window" if exc.action == "outside_window" else "failed"
        outcome = Outcome(status, str(exc.code) if exc.code is not None else None, exc.message[:500])
        async with self.db.transaction(event.tenant_id) as session:
            await DeliveryRepository(session, event.tenant_id).set_status(
                delivery_id, status, error_code=outcome.error_code, error_message=outcome.error_message
            )
        if exc.action == "token_expired":
            await self.publisher.publish(
                ChannelPaused(
                    tenant_id=event.tenant_id,
                    event_id=uuid.uuid5(channel.id, f"paused:{exc.code}:{delivery_id}"),
                    payload=ChannelPausedPayload(
                        channel_id=channel.id, reason="access token expired", error_code="190"
                    ),
                )
            )
        await self._announce(event, outcome, delivery_id)

    async def _announce(
        self, event: ReplyReady, outcome: Outcome, delivery_id: uuid.UUID, platform_message_id: str | None = None
    ) -> None:
        """Publish ReplySent / ReplyFailed with an id derived from the message, so repeats dedupe."""
        p = event.payload
        failed = outcome.status in FINAL_FAILURES
        kind = ReplyFailed if failed else ReplySent
        payload = ReplyDeliveryPayload(
            message_id=p.message_id, conversation_id=p.conversation_id, channel=p.channel, delivery_id=delivery_id,
            platform_message_id=platform_message_id, error_code=outcome.error_code, error_message=outcome.error_message,
        )  # fmt: skip
        event_id = uuid.uuid5(p.message_id, kind.stream)
        await self.publisher.publish(kind(tenant_id=event.tenant_id, event_id=event_id, payload=payload))


async def remember_customer_wrote(session: AsyncSession, event: MessageReceived) -> None:
    """Open (or extend) the 24-hour window in which free-form replies are allowed."""
    p = event.payload
    await WindowRepository(session, event.tenant_id).touch(p.channel, p.customer_id, p.received_at)


async def apply_status(session: AsyncSession, event: DeliveryStatusChanged) -> None:
    """A status webhook: the highest state wins (sent < delivered < read); failures are recorded."""
    p = event.payload
    parts = PartRepository(session, event.tenant_id)
    part = await parts.by_platform_id(p.platform_message_id)
    if part is None:
        logger.info("status for a message we did not send", extra={"platform_message_id": p.platform_message_id})
        return
    if p.status == "failed":
        part.status, part.error_code = "failed", p.error_code
    elif STATUS_RANK.get(p.status, -1) > STATUS_RANK.get(part.status, 99 if part.status == "failed" else -1):
        part.status = p.status
    part.status_at = p.status_at
    await session.flush()
    statuses = await parts.statuses(part.delivery_id)
    overall = "failed" if "failed" in statuses else min(statuses, key=lambda s: STATUS_RANK.get(s, 0))
    await DeliveryRepository(session, event.tenant_id).set_status(
        part.delivery_id, overall, error_code=p.error_code if overall == "failed" else None
    )
