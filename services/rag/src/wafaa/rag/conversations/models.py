"""Conversation and message tables (owned by rag)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import DateTime, ForeignKeyConstraint, Index, String, Text, UniqueConstraint, false, func, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from wafaa.common.db import HasCreatedAt, HasId, TenantScoped
from wafaa.rag.database import Base


class Conversation(TenantScoped, HasId, HasCreatedAt, Base):
    __tablename__ = "conversations"
    __table_args__ = (
        UniqueConstraint("tenant_id", "channel", "customer_id"),
        UniqueConstraint("tenant_id", "id"),
        Index("ix_conversations_tenant_last_message", "tenant_id", "last_message_at", "id"),
    )

    channel: Mapped[str] = mapped_column(String(20))
    channel_id: Mapped[UUID | None]
    customer_id: Mapped[str] = mapped_column(String(200))
    customer_name: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20), default="open", server_default="open")
    last_message_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Message(TenantScoped, HasId, HasCreatedAt, Base):
    __tablename__ = "messages"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "conversation_id"], ["rag.conversations.tenant_id", "rag.conversations.id"]),
        Index(
            "uq_messages_tenant_platform_message_id",
            "tenant_id",
            "platform_message_id",
            unique=True,
            postgresql_where=text("platform_message_id IS NOT NULL"),
        ),
        Index("ix_messages_conversation_created", "tenant_id", "conversation_id", "created_at"),
        Index(
            "ix_messages_unanswered",
            "tenant_id",
            "conversation_id",
            postgresql_where=text("direction = 'in' AND NOT answered"),
        ),
    )

    conversation_id: Mapped[UUID]
    direction: Mapped[str] = mapped_column(String(10))
    author: Mapped[str] = mapped_column(String(10))
    platform_message_id: Mapped[str | None] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(30), default="text")
    text: Mapped[str | None] = mapped_column(Text)
    attachments: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    sent_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    sources: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list, server_default="[]")
    request_id: Mapped[str | None] = mapped_column(String(100))
    # Inbound messages wait for a turn until answered (or consumed by a handoff); outbound ones are true.
    answered: Mapped[bool] = mapped_column(default=False, server_default=false())
