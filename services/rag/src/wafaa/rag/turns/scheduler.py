"""Debounced turns in one Redis sorted set: member = conversation key, score = when it is due.

Each inbound message (after its transaction committed, before its stream entry is acknowledged)
sets its conversation's due time to `now + window`, so a burst of messages pushes the turn out and
is answered once. A worker claims due members by moving their score to a lease deadline (atomic,
in Lua); when the turn is done it removes the member only if the score is still its lease, so a
message that arrived meanwhile keeps its own turn. A worker that dies leaves the lease to expire
and another replica runs the turn. The messages themselves are in Postgres (`answered = false`):
the set only says when to look.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from uuid import UUID

from redis.asyncio import Redis

KEY = "wafaa:rag:turns"

_CLAIM = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
for _, member in ipairs(due) do redis.call('ZADD', KEYS[1], ARGV[2], member) end
return due
"""
_DONE = """
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if score and tonumber(score) == tonumber(ARGV[2]) then redis.call('ZREM', KEYS[1], ARGV[1]) return 1 end
return 0
"""


@dataclass(frozen=True)
class TurnKey:
    tenant_id: UUID
    channel: str
    customer_id: str

    def member(self) -> str:
        return f"{self.tenant_id}|{self.channel}|{self.customer_id}"

    @classmethod
    def parse(cls, member: str | bytes) -> TurnKey:
        raw = member.decode() if isinstance(member, bytes) else member
        tenant, channel, customer = raw.split("|", 2)
        return cls(UUID(tenant), channel, customer)


class TurnScheduler:
    """Schedules, claims and completes debounced turns."""

    def __init__(self, redis: Redis, lease_seconds: float) -> None:
        self.redis = redis
        self.lease_seconds = lease_seconds
        self._claim = redis.register_script(_CLAIM)
        self._done = redis.register_script(_DONE)

    async def schedule(self, key: TurnKey, delay: float) -> None:
        """The conversation's turn is due `delay` seconds from now (a later message pushes it out)."""
        await self.redis.zadd(KEY, {key.member(): round(time.time() + delay, 6)})

    async def claim(self, limit: int) -> list[tuple[TurnKey, float]]:
        """Due turns, each leased to this worker until its deadline."""
        if limit <= 0:
            return []
        lease = round(time.time() + self.lease_seconds, 6)
        members = await self._claim(keys=[KEY], args=[round(time.time(), 6), lease, limit])
        return [(TurnKey.parse(m), lease) for m in members]

    async def done(self, key: TurnKey, lease: float) -> None:
        """Forget the turn unless a newer message rescheduled it meanwhile."""
        await self._done(keys=[KEY], args=[key.member(), lease])
