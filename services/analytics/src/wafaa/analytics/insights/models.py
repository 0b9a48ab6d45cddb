"""Tables owned by analytics: per-message facts, conversation and reply state, and rollups.

Rollups are keyed by the tenant's local day (and hour) and channel; counters only ever move when a
fact row changes state for the first time, so an event applied twice (or out of order) counts once.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from uuid import UUID

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Double,
    Index,
    Integer,
    PrimaryKeyConstraint,
    SmallInteger,
    String,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import ARRAY, BYTEA, DATEMULTIRANGE, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from wafaa.analytics.database import Base
from wafaa.common.db import HasCreatedAt, HasId, TenantScoped


class TenantKeyed(TenantScoped):
    """A tenant table whose primary key starts with `tenant_id`."""

    tenant_id: Mapped[UUID] = mapped_column(primary_key=True)


class MessageInsight(TenantScoped, HasId, HasCreatedAt, Base):
    __tablename__ = "message_insights"
    __table_args__ = (
        UniqueConstraint("tenant_id", "direction", "message_ref"),
        Index("ix_message_insights_thread", "tenant_id", "channel", "customer_id", "occurred_at"),
    )

    direction: Mapped[str] = mapped_column(String(10))
    message_ref: Mapped[str] = mapped_column(String(200))
    channel: Mapped[str] = mapped_column(String(20))
    customer_id: Mapped[str] = mapped_column(String(200))
    author: Mapped[str] = mapped_column(String(10))
    text_length: Mapped[int] = mapped_column(Integer, default=0)
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    language: Mapped[str | None] = mapped_column(String(10))
    sentiment: Mapped[str | None] = mapped_column(String(10))
    sentiment_score: Mapped[float | None] = mapped_column(Double)
    emoji_count: Mapped[int | None] = mapped_column(Integer)
    intent: Mapped[str | None] = mapped_column(String(20))
    excerpt: Mapped[str | None] = mapped_column(String(500))


class Reply(TenantKeyed, Base):
    """One outbound reply: when it was ready, when it reached the platform, what it answered."""

    __tablename__ = "replies"

    message_id: Mapped[UUID] = mapped_column(primary_key=True)
    conversation_id: Mapped[UUID | None] = mapped_column()
    channel: Mapped[str | None] = mapped_column(String(20))
    recipient_id: Mapped[str | None] = mapped_column(String(200))
    author: Mapped[str | None] = mapped_column(String(10))
    in_reply_to: Mapped[str | None] = mapped_column(String(200))
    fallback: Mapped[bool] = mapped_column(Boolean, default=False)
    handoff: Mapped[bool] = mapped_column(Boolean, default=False)
    ready_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    failed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    timed: Mapped[bool] = mapped_column(Boolean, default=False)


class ConversationFact(TenantKeyed, Base):
    """A conversation's start and the transitions the rollups have already counted."""

    __tablename__ = "conversations"

    conversation_id: Mapped[UUID] = mapped_column(primary_key=True)
    channel: Mapped[str | None] = mapped_column(String(20))
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    escalated: Mapped[bool] = mapped_column(Boolean, default=False)
    answered: Mapped[bool] = mapped_column(Boolean, default=False)
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    counted: Mapped[bool] = mapped_column(Boolean, default=False)
    counted_escalated: Mapped[bool] = mapped_column(Boolean, default=False)
    counted_answered: Mapped[bool] = mapped_column(Boolean, default=False)
    counted_bot_resolved: Mapped[bool] = mapped_column(Boolean, default=False)
    resolution_timed: Mapped[bool] = mapped_column(Boolean, default=False)


class DeliveryFact(TenantKeyed, Base):
    """The first delivered, read and failed status of one platform message."""

    __tablename__ = "deliveries"

    platform_message_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    delivered: Mapped[bool] = mapped_column(Boolean, default=False)
    read: Mapped[bool] = mapped_column(Boolean, default=False)
    failed: Mapped[bool] = mapped_column(Boolean, default=False)


class ResponseTime(TenantKeyed, Base):
    """One measured response: bot reply, first human reply, or resolution of a conversation."""

    __tablename__ = "response_times"
    __table_args__ = (Index("ix_response_times_period", "tenant_id", "kind", "day"),)

    kind: Mapped[str] = mapped_column(String(12), primary_key=True)
    ref: Mapped[UUID] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(20))
    day: Mapped[date] = mapped_column(Date)
    hour: Mapped[int] = mapped_column(SmallInteger)
    seconds: Mapped[float] = mapped_column(Double)


class ResponseTimeBlock(TenantKeyed, Base):
    """Every measured response of one local day, hour, channel and kind, packed for fast percentiles.

    `samples` is the seconds as big-endian float64 (`float8send`), appended once per new
    `response_times` row, so a period's exact percentiles read a few thousand short rows instead of
    one row per reply.
    """

    __tablename__ = "response_time_blocks"
    __table_args__ = (PrimaryKeyConstraint("tenant_id", "day", "hour", "channel", "kind"),)

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    hour: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    channel: Mapped[str] = mapped_column(String(20), primary_key=True)
    kind: Mapped[str] = mapped_column(String(12), primary_key=True)
    samples: Mapped[bytes] = mapped_column(BYTEA)


class HourlyRollup(TenantKeyed, Base):
    """Counters per tenant, local day, local hour and channel."""

    __tablename__ = "hourly_rollups"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    hour: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    channel: Mapped[str] = mapped_column(String(20), primary_key=True)
    messages_in: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    replies_bot: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    replies_human: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    fallback_replies: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    handoff_replies: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    conversations: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    escalated: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    bot_resolved: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    replies_sent: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    replies_failed: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    delivered: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    read: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    status_failed: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    bot_rt_count: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    bot_rt_sum: Mapped[float] = mapped_column(Double, default=0, server_default="0")
    human_rt_count: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    human_rt_sum: Mapped[float] = mapped_column(Double, default=0, server_default="0")
    resolution_count: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    resolution_sum: Mapped[float] = mapped_column(Double, default=0, server_default="0")


class CustomerDay(TenantKeyed, Base):
    """A customer wrote on that local day and channel (for distinct active customers)."""

    __tablename__ = "customer_days"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    channel: Mapped[str] = mapped_column(String(20), primary_key=True)
    customer_id: Mapped[str] = mapped_column(String(200), primary_key=True)


class CustomerActivity(TenantKeyed, Base):
    """The local days a customer wrote on a channel, as one multirange (exact distinct counts per period)."""

    __tablename__ = "customer_activity"
    __table_args__ = (PrimaryKeyConstraint("tenant_id", "channel", "customer_id"),)

    channel: Mapped[str] = mapped_column(String(20), primary_key=True)
    customer_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    days: Mapped[Any] = mapped_column(DATEMULTIRANGE)
    # bounds of `days`, so a period covering them needs no multirange test
    first_day: Mapped[date] = mapped_column(Date)
    last_day: Mapped[date] = mapped_column(Date)


class SentimentRollup(TenantKeyed, Base):
    __tablename__ = "sentiment_rollups"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    channel: Mapped[str] = mapped_column(String(20), primary_key=True)
    language: Mapped[str] = mapped_column(String(10), primary_key=True)
    label: Mapped[str] = mapped_column(String(10), primary_key=True)
    messages: Mapped[int] = mapped_column(BigInteger, default=0)
    score_sum: Mapped[float] = mapped_column(Double, default=0)
    emoji: Mapped[int] = mapped_column(BigInteger, default=0)


class IntentRollup(TenantKeyed, Base):
    __tablename__ = "intent_rollups"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    channel: Mapped[str] = mapped_column(String(20), primary_key=True)
    intent: Mapped[str] = mapped_column(String(20), primary_key=True)
    messages: Mapped[int] = mapped_column(BigInteger, default=0)


class FailureRollup(TenantKeyed, Base):
    __tablename__ = "failure_rollups"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    channel: Mapped[str] = mapped_column(String(20), primary_key=True)
    error_code: Mapped[str] = mapped_column(String(40), primary_key=True)
    failures: Mapped[int] = mapped_column(BigInteger, default=0)


class KnowledgeGap(TenantScoped, HasId, Base):
    """Questions the bot could not answer, grouped by their content words."""

    __tablename__ = "knowledge_gaps"
    __table_args__ = (Index("ix_knowledge_gaps_terms", "terms", postgresql_using="gin"),)

    terms: Mapped[list[str]] = mapped_column(ARRAY(String(60)))
    label: Mapped[str] = mapped_column(String(300))
    examples: Mapped[list[Any]] = mapped_column(JSONB, default=list)
    occurrences: Mapped[int] = mapped_column(BigInteger, default=0)
    last_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class GapRollup(TenantKeyed, Base):
    __tablename__ = "gap_rollups"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    channel: Mapped[str] = mapped_column(String(20), primary_key=True)
    gap_id: Mapped[UUID] = mapped_column(primary_key=True)
    occurrences: Mapped[int] = mapped_column(BigInteger, default=0)
