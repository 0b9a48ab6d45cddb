"""Queries of the analytics service: facts, counters and knowledge gaps, all scoped to one tenant.

Every statement is built once (at import, or on first use of its shape) and executed with
parameters: building SQLAlchemy constructs anew per event (the EXCLUDED alias of an upsert,
coerced values, the cache key of a new statement) cost more CPU than the database work itself.
Reads and updates start from `WHERE tenant_id = :tenant`, inserts carry `tenant_id`; a repository
always binds its own tenant. INSERT statements take their columns from the parameters' keys, as
`.values()` would; parameters of WHERE clauses are named unlike any column (an UPDATE would
take a parameter named after a column as a value to set).
"""

from __future__ import annotations

from datetime import date, datetime
from functools import cache
from typing import Any, cast
from uuid import UUID

from sqlalchemy import BindParameter, Insert, Integer, String, Table, bindparam, func, select, text, update
from sqlalchemy.dialects.postgresql import insert

from wafaa.analytics.insights.models import (
    ConversationFact,
    DeliveryFact,
    FailureRollup,
    GapRollup,
    HourlyRollup,
    IntentRollup,
    KnowledgeGap,
    MessageInsight,
    Reply,
    SentimentRollup,
)
from wafaa.common.analytics import ALL_CHANNELS
from wafaa.common.db import TenantRepository

TENANT: BindParameter[Any] = bindparam("tenant")
# ORM upserts get their parameters as Core would ("auto" would run them as bulk inserts) and
# refresh the returned row in the session.
_ORM_UPSERT = {"dml_strategy": "orm", "populate_existing": True}


def _table(model: Any) -> Table:
    return cast(Table, model.__table__)


_INSIGHTS = _table(MessageInsight)
_REPLIES = _table(Reply)
_CONVERSATIONS = _table(ConversationFact)
_DELIVERIES = _table(DeliveryFact)

_ADD_INSIGHT = insert(_INSIGHTS).on_conflict_do_nothing().returning(_INSIGHTS.c.id)
_LOCK_THREAD = select(func.pg_advisory_xact_lock(func.hashtextextended(bindparam("key", type_=String), 0)))
_INBOUND = select(MessageInsight).where(
    MessageInsight.tenant_id == TENANT,
    MessageInsight.direction == "in",
    MessageInsight.message_ref == bindparam("message_ref"),
)
_FIRST_WAITING = select(func.min(_INSIGHTS.c.occurred_at)).where(
    _INSIGHTS.c.tenant_id == TENANT,
    _INSIGHTS.c.direction == "in",
    _INSIGHTS.c.channel == bindparam("channel"),
    _INSIGHTS.c.customer_id == bindparam("customer_id"),
    _INSIGHTS.c.occurred_at <= bindparam("until"),
)
_FIRST_WAITING_AFTER = _FIRST_WAITING.where(_INSIGHTS.c.occurred_at > bindparam("after"))

_LAST_READY = select(func.max(_REPLIES.c.ready_at)).where(
    _REPLIES.c.tenant_id == TENANT,
    _REPLIES.c.channel == bindparam("channel"),
    _REPLIES.c.recipient_id == bindparam("recipient_id"),
    _REPLIES.c.author == bindparam("author"),
    _REPLIES.c.ready_at <= bindparam("before"),
    _REPLIES.c.message_id != bindparam("exclude"),
)
_WAITING_FOR = select(Reply).where(
    Reply.tenant_id == TENANT, Reply.in_reply_to == bindparam("in_reply_to"), Reply.started_at.is_(None)
)
_MARK_TIMED = (
    update(_REPLIES).where(_REPLIES.c.tenant_id == TENANT, _REPLIES.c.message_id == bindparam("ref")).values(timed=True)
)


@cache
def _reply_upsert(fields: tuple[str, ...]) -> Any:
    """Insert a reply, or fill in those of `fields` the row does not have yet."""
    stmt = insert(Reply)
    return stmt.on_conflict_do_update(
        index_elements=[Reply.tenant_id, Reply.message_id],
        set_={k: func.coalesce(getattr(Reply, k), stmt.excluded[k]) for k in fields},
    ).returning(Reply)


def _conversation_upsert() -> Any:
    stmt = insert(ConversationFact)
    merge: dict[str, Any] = {
        "channel": func.coalesce(ConversationFact.channel, stmt.excluded.channel),
        "started_at": func.least(ConversationFact.started_at, stmt.excluded.started_at),
        "escalated": ConversationFact.escalated | stmt.excluded.escalated,
        "answered": ConversationFact.answered | stmt.excluded.answered,
        "resolved_at": func.coalesce(ConversationFact.resolved_at, stmt.excluded.resolved_at),
    }
    return stmt.on_conflict_do_update(
        index_elements=[ConversationFact.tenant_id, ConversationFact.conversation_id], set_=merge
    ).returning(ConversationFact)


_CONVERSATION_UPSERT = _conversation_upsert()


@cache
def _conversation_mark(flags: tuple[str, ...]) -> Any:
    return (
        update(_CONVERSATIONS)
        .where(_CONVERSATIONS.c.tenant_id == TENANT, _CONVERSATIONS.c.conversation_id == bindparam("ref"))
        .values({flag: bindparam(f"new_{flag}") for flag in flags})
    )


@cache
def _turn_on(flag: str) -> Any:
    """Insert the message with `flag` on, or turn it on; a row comes back only when it was off before."""
    column = _DELIVERIES.c[flag]
    return (
        insert(_DELIVERIES)
        .on_conflict_do_update(
            index_elements=[_DELIVERIES.c.tenant_id, _DELIVERIES.c.platform_message_id],
            set_={flag: True},
            where=column.is_(False),
        )
        .returning(_DELIVERIES.c.platform_message_id)
    )


@cache
def _add_to_counters(model: Any, keys: tuple[str, ...], amounts: tuple[str, ...]) -> Insert:
    """`INSERT … ON CONFLICT (tenant_id, keys) DO UPDATE SET amount = amount + EXCLUDED.amount`."""
    table = _table(model)
    stmt = insert(table)
    return stmt.on_conflict_do_update(
        index_elements=[table.c.tenant_id, *(table.c[k] for k in keys)],
        set_={k: table.c[k] + stmt.excluded[k] for k in amounts},
    )


# The day goes into the activity multiranges (the channel's and all channels') only when the
# customer's `customer_days` row is new.
_ADD_CUSTOMER_DAY = text(
    "WITH fresh AS (INSERT INTO analytics.customer_days (tenant_id, day, channel, customer_id) "
    "VALUES (:tenant_id, :day, :channel, :customer_id) ON CONFLICT DO NOTHING RETURNING tenant_id, day, customer_id) "
    "INSERT INTO analytics.customer_activity AS a (tenant_id, channel, customer_id, days, first_day, last_day) "
    "SELECT f.tenant_id, c.channel, f.customer_id, datemultirange(daterange(f.day, f.day, '[]')), f.day, f.day "
    "FROM fresh f CROSS JOIN (VALUES (CAST(:channel AS varchar)), (CAST(:all_channels AS varchar))) AS c (channel) "
    "ON CONFLICT (tenant_id, channel, customer_id) DO UPDATE SET days = a.days + EXCLUDED.days, "
    "first_day = least(a.first_day, EXCLUDED.first_day), last_day = greatest(a.last_day, EXCLUDED.last_day)"
)
# A new measurement is also appended to its block; a row comes back only when it was new.
_ADD_RESPONSE_TIME = text(
    "WITH measured AS (INSERT INTO analytics.response_times (tenant_id, kind, ref, channel, day, hour, seconds) "
    "VALUES (:tenant_id, :kind, :ref, :channel, :day, :hour, :seconds) ON CONFLICT DO NOTHING "
    "RETURNING tenant_id, day, hour, channel, kind, seconds) "
    "INSERT INTO analytics.response_time_blocks AS b (tenant_id, day, hour, channel, kind, samples) "
    "SELECT tenant_id, day, hour, channel, kind, float8send(seconds) FROM measured "
    "ON CONFLICT (tenant_id, day, hour, channel, kind) DO UPDATE SET samples = b.samples || EXCLUDED.samples "
    "RETURNING b.kind"
)
_GAP_CANDIDATES = (
    select(KnowledgeGap)
    .where(KnowledgeGap.tenant_id == TENANT, KnowledgeGap.terms.overlap(bindparam("terms")))
    .order_by(KnowledgeGap.occurrences.desc())
    .limit(bindparam("limit", type_=Integer))
)


class InsightRepository(TenantRepository[MessageInsight]):
    model = MessageInsight

    async def add_once(self, **fields: Any) -> bool:
        """Record one message's insight; False when the message was already recorded."""
        result = await self.session.execute(_ADD_INSIGHT, {"tenant_id": self.tenant_id, **fields})
        return result.first() is not None

    async def lock_thread(self, channel: str, customer_id: str) -> None:
        """Serialise the events of one customer thread (a message and its reply may race otherwise)."""
        await self.session.execute(_LOCK_THREAD, {"key": f"{self.tenant_id}:{channel}:{customer_id}"})

    async def inbound(self, message_ref: str) -> MessageInsight | None:
        """A customer message by its platform id."""
        result = await self.session.execute(_INBOUND, {"tenant": self.tenant_id, "message_ref": message_ref})
        found: MessageInsight | None = result.scalar_one_or_none()
        return found

    async def first_waiting(
        self, channel: str, customer_id: str, after: datetime | None, until: datetime
    ) -> datetime | None:
        """The earliest customer message of a thread written after `after` and not after `until`."""
        params = {"tenant": self.tenant_id, "channel": channel, "customer_id": customer_id, "until": until}
        if after is None:
            result = await self.session.execute(_FIRST_WAITING, params)
        else:
            result = await self.session.execute(_FIRST_WAITING_AFTER, {**params, "after": after})
        found: datetime | None = result.scalar_one()
        return found


class ReplyRepository(TenantRepository[Reply]):
    model = Reply

    async def upsert(self, message_id: UUID, **fields: Any) -> Reply:
        """Create or complete a reply row (fields already set are kept) and return it, locked."""
        params = {"tenant_id": self.tenant_id, "message_id": message_id, **fields}
        result = await self.session.execute(_reply_upsert(tuple(fields)), params, execution_options=_ORM_UPSERT)
        row: Reply = result.scalar_one()
        return row

    async def last_ready(
        self, channel: str, recipient_id: str, author: str, before: datetime, exclude: UUID
    ) -> datetime | None:
        """When the thread's previous reply by this author was ready."""
        params = {
            "tenant": self.tenant_id,
            "channel": channel,
            "recipient_id": recipient_id,
            "author": author,
            "before": before,
            "exclude": exclude,
        }
        found: datetime | None = (await self.session.execute(_LAST_READY, params)).scalar_one()
        return found

    async def waiting_for(self, in_reply_to: str) -> list[Reply]:
        """Bot replies to a customer message that arrived here after them (still without a start)."""
        result = await self.session.execute(_WAITING_FOR, {"tenant": self.tenant_id, "in_reply_to": in_reply_to})
        return list(result.scalars().all())

    async def mark_timed(self, message_id: UUID) -> None:
        await self.session.execute(_MARK_TIMED, {"tenant": self.tenant_id, "ref": message_id})


class ConversationRepository(TenantRepository[ConversationFact]):
    model = ConversationFact

    async def upsert(self, conversation_id: UUID, **fields: Any) -> ConversationFact:
        """Create or merge a conversation's facts: flags only turn on, the earliest start wins."""
        params = {
            "tenant_id": self.tenant_id,
            "conversation_id": conversation_id,
            "escalated": False,
            "answered": False,
            **fields,
        }
        result = await self.session.execute(_CONVERSATION_UPSERT, params, execution_options=_ORM_UPSERT)
        row: ConversationFact = result.scalar_one()
        return row

    async def mark(self, conversation_id: UUID, **flags: Any) -> None:
        params = {"tenant": self.tenant_id, "ref": conversation_id, **{f"new_{k}": v for k, v in flags.items()}}
        await self.session.execute(_conversation_mark(tuple(flags)), params)


class DeliveryRepository(TenantRepository[DeliveryFact]):
    model = DeliveryFact

    async def turn_on(self, platform_message_id: str, flag: str) -> bool:
        """Set a status flag of a platform message; True only the first time."""
        params = {"tenant_id": self.tenant_id, "platform_message_id": platform_message_id, flag: True}
        return (await self.session.execute(_turn_on(flag), params)).first() is not None


class RollupRepository(TenantRepository[HourlyRollup]):
    """Counters: every write is an upsert adding to what is there."""

    model = HourlyRollup

    async def _add(self, model: Any, keys: dict[str, Any], amounts: dict[str, Any]) -> None:
        stmt = _add_to_counters(model, tuple(keys), tuple(amounts))
        await self.session.execute(stmt, {"tenant_id": self.tenant_id, **keys, **amounts})

    async def hourly(self, day: date, hour: int, channel: str, **amounts: Any) -> None:
        await self._add(HourlyRollup, {"day": day, "hour": hour, "channel": channel}, amounts)

    async def sentiment(self, day: date, channel: str, language: str, label: str, score: float, emoji: int) -> None:
        keys = {"day": day, "channel": channel, "language": language, "label": label}
        await self._add(SentimentRollup, keys, {"messages": 1, "score_sum": score, "emoji": emoji})

    async def intent(self, day: date, channel: str, intent: str) -> None:
        await self._add(IntentRollup, {"day": day, "channel": channel, "intent": intent}, {"messages": 1})

    async def failure(self, day: date, channel: str, error_code: str) -> None:
        await self._add(FailureRollup, {"day": day, "channel": channel, "error_code": error_code}, {"failures": 1})

    async def gap(self, day: date, channel: str, gap_id: UUID) -> None:
        await self._add(GapRollup, {"day": day, "channel": channel, "gap_id": gap_id}, {"occurrences": 1})

    async def customer_day(self, day: date, channel: str, customer_id: str) -> None:
        """The customer wrote on that day: one `customer_days` row, and the day in their activity multirange
        of that channel and of all channels."""
        params = {"tenant_id": self.tenant_id, "day": day, "channel": channel, "customer_id": customer_id}
        await self.session.execute(_ADD_CUSTOMER_DAY, {**params, "all_channels": ALL_CHANNELS})

    async def response_time(self, kind: str, ref: UUID, channel: str, day: date, hour: int, seconds: float) -> bool:
        """Record one measured response; False when it was measured before."""
        params = {"tenant_id": self.tenant_id, "kind": kind, "ref": ref, "channel": channel, "day": day, "hour": hour}
        result = await self.session.execute(_ADD_RESPONSE_TIME, {**params, "seconds": seconds})
        return result.first() is not None


class GapRepository(TenantRepository[KnowledgeGap]):
    model = KnowledgeGap

    async def candidates(self, terms: list[str], limit: int = 50) -> list[KnowledgeGap]:
        """Gaps sharing at least one term (GIN index), most frequent first."""
        params = {"tenant": self.tenant_id, "terms": terms, "limit": limit}
        return list((await self.session.execute(_GAP_CANDIDATES, params)).scalars().all())
