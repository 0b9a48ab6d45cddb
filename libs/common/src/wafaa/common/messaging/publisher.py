"""Publishing events onto their streams with a bounded length and the tenant in a header."""

from __future__ import annotations

from typing import Any

from faststream.redis import RedisBroker
from faststream.redis.message import DATA_KEY
from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from wafaa.common.events import Event
from wafaa.common.messaging.coalesce import BatchedScript
from wafaa.common.observability.metrics import EVENTS_PUBLISHED

# Claim a key (SET NX EX) and append the entry only if the claim is new, in one script: Redis runs it
# whole, and its append-only file records its writes as one MULTI/EXEC block, which a restart replays
# entirely or not at all. Two commands could leave a claim without its entry (a crash or timeout in
# between), and every later delivery would be taken for a duplicate of a message that was never stored.
# A script is not rolled back when a command in it fails, so a refused append releases the claim itself.
# The script runs a batch of such calls (see coalesce.py): KEYS holds each call's claim and stream, ARGV
# each call's event id, claim TTL, stream bound, field and entry; it answers 1 (appended), 0 (claim
# already held) or the refused append's error, per call.
_CLAIM_AND_APPEND = """
local replies = {}
for call = 0, #KEYS / 2 - 1 do
    local claim, stream, arg = KEYS[2 * call + 1], KEYS[2 * call + 2], 5 * call
    if not redis.call('SET', claim, ARGV[arg + 1], 'NX', 'EX', ARGV[arg + 2]) then
        replies[call + 1] = 0
    else
        local appended = redis.pcall('XADD', stream, 'MAXLEN', '~', ARGV[arg + 3], '*', ARGV[arg + 4], ARGV[arg + 5])
        if type(appended) == 'table' and appended.err then
            redis.call('DEL', claim)
            replies[call + 1] = appended
        else
            replies[call + 1] = 1
        end
    end
end
return replies
"""


class EventPublisher:
    """Appends events to their streams. Returns once Redis has the entry (XADD answered).

    With `redis` (a client of the broker's Redis), `publish_many` sends its events in one pipeline and
    `publish_once` is available.
    """

    def __init__(self, broker: RedisBroker, *, maxlen: int, service: str, redis: Redis | None = None) -> None:
        self._broker = broker
        self._maxlen = maxlen
        self._service = service
        self._redis = redis
        # concurrent publish_once calls share one script run in Redis (see coalesce.py)
        self._claim_and_append = (
            BatchedScript(redis, _CLAIM_AND_APPEND, keys_per_call=2, args_per_call=5) if redis is not None else None
        )

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

    async def publish_once(
        self, event: Event[Any], *, claim: str, ttl_seconds: int, request_id: str | None = None
    ) -> bool:
        """Append the event unless `claim` is already held; False (nothing appended) when it is.

        The claim (kept `ttl_seconds`, holding the event id) and the entry are written atomically: after
        any failure either both exist or neither does. The entry is encoded exactly as `publish` does.
        """
        if self._claim_and_append is None:
            raise RuntimeError("publish_once needs the publisher's Redis client")
        entry = await self._broker.message_format.encode(
            message=event.model_dump_json().encode(),
            reply_to=None,
            headers=event.headers(request_id),
            correlation_id=str(event.event_id),
        )
        appended = await self._claim_and_append(
            [claim, event.stream], [str(event.event_id), ttl_seconds, self._maxlen, DATA_KEY, entry]
        )
        if appended:
            EVENTS_PUBLISHED.labels(self._service, event.stream).inc()
        return bool(appended)
