"""Queries of the analytics service: facts, counters and knowledge gaps, all scoped to one tenant."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from uuid import UUID

from sqlalchemy import func, select, text, update
from sqlalchemy.dialects.postgresql import insert

from wafaa.analytics.insights.models import (
    ConversationFact,
    CustomerDay,
    DeliveryFact,
    FailureRollup,
    GapRollup,
    HourlyRollup,
    IntentRollup,
    KnowledgeGap,
    MessageInsight,
    Reply,
    ResponseTime,
    SentimentRollup,
)
from wafaa.common.analytics import ALL_CHANNELS
from wafaa.common.db import TenantRepository

_ADD_ACTIVE_DAY = text(
    "INSERT INTO analytics.customer_activity AS a (tenant_id, channel, customer_id, days, first_day, last_day) "
    "VALUES (:tenant_id, :channel, :customer_id, datemultirange(daterange(:day, :day, '[]')), :day, :day) "
    "ON CONFLICT (tenant_id, channel, customer_id) DO UPDATE SET days = a.days + EXCLUDED.days, "
    "first_day = least(a.first_day, EXCLUDED.first_day), last_day = greatest(a.last_day, EXCLUDED.last_day)"
)
_APPEND_SAMPLE = text(
    "INSERT INTO analytics.response_time_blocks AS b (tenant_id, day, hour, channel, kind, samples) "
    "VALUES (:tenant_id, :day, :hour, :channel, :kind, float8send(CAST(:s AS double precision))) "
    "ON CONFLICT (tenant_id, day, hour, channel, kind) DO UPDATE SET samples = b.samples || EXCLUDED.samples"
)


class InsightRepository(TenantRepository[MessageInsight]):
    model = MessageInsight

    async def add_once(self, **fields: Any) -> bool:
        """Record one message's insight; False when the message was already recorded."""
        stmt = (
            insert(MessageInsight)
            .values(tenant_id=self.tenant_id, **fields)
            .on_conflict_do_nothing()
            .returning(MessageInsight.id)
        )
        return (await self.session.execute(stmt)).first() is not None

    async def lock_thread(self, channel: str, customer_id: str) -> None:
        """Serialise the events of one customer thread (a message and its reply may race otherwise)."""
        key = f"{self.tenant_id}:{channel}:{customer_id}"
        await self.session.execute(select(func.pg_advisory_xact_lock(func.hashtextextended(key, 0))))

    async def inbound(self, message_ref: str) -> MessageInsight | None:
        """A customer message by its platform id."""
        stmt = self.select().where(MessageInsight.direction == "in", MessageInsight.message_ref == message_ref)
        found: MessageInsight | None = (await self.session.execute(stmt)).scalar_one_or_none()
        return found

    async def first_waiting(
        self, channel: str, customer_id: str, after: datetime | None, until: datetime
    ) -> datetime | None:
        """The earliest customer message of a thread written after `after` and not after `until`."""
        stmt = self.select(func.min(MessageInsight.occurred_at)).where(
            MessageInsight.direction == "in",
            MessageInsight.channel == channel,
            MessageInsight.customer_id == customer_id,
            MessageInsight.occurred_at <= until,
        )
        if after is not None:
            stmt = stmt.where(MessageInsight.occurred_at > after)
        found: datetime | None = (await self.session.execute(stmt)).scalar_one()
        return found


class ReplyRepository(TenantRepository[Reply]):
    model = Reply

    async def upsert(self, message_id: UUID, **fields: Any) -> Reply:
        """Create or complete a reply row (fields already set are kept) and return it, locked."""
        stmt = insert(Reply).values(tenant_id=self.tenant_id, message_id=message_id, **fields)
        stmt = stmt.on_conflict_do_update(
            index_elements=[Reply.tenant_id, Reply.message_id],
            set_={k: func.coalesce(getattr(Reply, k), stmt.excluded[k]) for k in fields},
        ).returning(Reply)
        row: Reply = (await self.session.execute(stmt, execution_options={"populate_existing": True})).scalar_one()
        return row

    async def last_ready(
        self, channel: str, recipient_id: str, author: str, before: datetime, exclude: UUID
    ) -> datetime | None:
        """When the thread's previous reply by this author was ready."""
        stmt = self.select(func.max(Reply.ready_at)).where(
            Reply.channel == channel,
            Reply.recipient_id == recipient_id,
            Reply.author == author,
            Reply.ready_at <= before,
            Reply.message_id != exclude,
        )
        found: datetime | None = (await self.session.execute(stmt)).scalar_one()
        return found

    async def waiting_for(self, in_reply_to: str) -> list[Reply]:
        """Bot replies to a customer message that arrived here after them (still without a start)."""
        stmt = self.select().where(Reply.in_reply_to == in_reply_to, Reply.started_at.is_(None))
        return list((await self.session.execute(stmt)).scalars().all())

    async def mark_timed(self, message_id: UUID) -> None:
        await self.session.execute(self.update().where(Reply.message_id == message_id).values(timed=True))


class ConversationRepository(TenantRepository[ConversationFact]):
    model = ConversationFact

    async def upsert(self, conversation_id: UUID, **fields: Any) -> ConversationFact:
        """Create or merge a conversation's facts: flags only turn on, the earliest start wins."""
        values = {"escalated": False, "answered": False, **fields}
        stmt = insert(ConversationFact).values(tenant_id=self.tenant_id, conversation_id=conversation_id, **values)
        merge: dict[str, Any] = {
            "channel": func.coalesce(ConversationFact.channel, stmt.excluded.channel),
            "started_at": func.least(ConversationFact.started_at, stmt.excluded.started_at),
            "escalated": ConversationFact.escalated | stmt.excluded.escalated,
            "answered": ConversationFact.answered | stmt.excluded.answered,
            "resolved_at": func.coalesce(ConversationFact.resolved_at, stmt.excluded.resolved_at),
        }
        stmt = stmt.on_conflict_do_update(
            index_elements=[ConversationFact.tenant_id, ConversationFact.conversation_id], set_=merge
        ).returning(ConversationFact)
        row: ConversationFact = (
            await self.session.execute(stmt, execution_options={"populate_existing": True})
        ).scalar_one()
        return row

    async def mark(self, conversation_id: UUID, **flags: Any) -> None:
        await self.session.execute(
            self.update().where(ConversationFact.conversation_id == conversation_id).values(**flags)
        )


class DeliveryRepository(TenantRepository[DeliveryFact]):
    model = DeliveryFact

    async def turn_on(self, platform_message_id: str, flag: str) -> bool:
        """Set a status flag of a platform message; True only the first time."""
        await self.session.execute(
            insert(DeliveryFact)
            .values(tenant_id=self.tenant_id, platform_message_id=platform_message_id)
            .on_conflict_do_nothing()
        )
        column = getattr(DeliveryFact, flag)
        stmt = (
            update(DeliveryFact)
            .where(
                DeliveryFact.tenant_id == self.tenant_id,
                DeliveryFact.platform_message_id == platform_message_id,
                column.is_(False),
            )
            .values({flag: True})
            .returning(DeliveryFact.platform_message_id)
        )
        return (await self.session.execute(stmt)).first() is not None


class RollupRepository(TenantRepository[HourlyRollup]):
    """Counters: every write is an upsert adding to what is there."""

    model = HourlyRollup

    async def _add(self, model: Any, keys: dict[str, Any], amounts: dict[str, Any]) -> None:
        stmt = insert(model).values(tenant_id=self.tenant_id, **keys, **amounts)
        stmt = stmt.on_conflict_do_update(
            index_elements=[model.tenant_id, *(getattr(model, k) for k in keys)],
            set_={k: getattr(model, k) + stmt.excluded[k] for k in amounts},
        )
        await self.session.execute(stmt)

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
        values = {"tenant_id": self.tenant_id, "day": day, "channel": channel, "customer_id": customer_id}
        first = await self.session.execute(
            insert(CustomerDay).values(**values).on_conflict_do_nothing().returning(CustomerDay.day)
        )
        if first.first() is not None:
            await self.session.execute(_ADD_ACTIVE_DAY, values)
            await self.session.execute(_ADD_ACTIVE_DAY, {**values, "channel": ALL_CHANNELS})

    async def response_time(self, kind: str, ref: UUID, channel: str, day: date, hour: int, seconds: float) -> bool:
        """Record one measured response; False when it was measured before."""
        stmt = (
            insert(ResponseTime)
            .values(tenant_id=self.tenant_id, kind=kind, ref=ref, channel=channel, day=day, hour=hour, seconds=seconds)
            .on_conflict_do_nothing()
            .returning(ResponseTime.ref)
        )
        if (await self.session.execute(stmt)).first() is None:
            return False
        block = {"tenant_id": self.tenant_id, "day": day, "hour": hour, "channel": channel, "kind": kind, "s": seconds}
        await self.session.execute(_APPEND_SAMPLE, block)
        return True


class GapRepository(TenantRepository[KnowledgeGap]):
    model = KnowledgeGap

    async def candidates(self, terms: list[str], limit: int = 50) -> list[KnowledgeGap]:
        """Gaps sharing at least one term (GIN index), most frequent first."""
        stmt = (
            self.select()
            .where(KnowledgeGap.terms.overlap(terms))
            .order_by(KnowledgeGap.occurrences.desc())
            .limit(limit)
        )
        return list((await self.session.execute(stmt)).scalars().all())
