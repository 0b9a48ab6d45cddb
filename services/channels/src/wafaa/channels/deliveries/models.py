"""Outbound delivery rows (owned by channels): intent first, platform id after the send."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from sqlalchemy import DateTime, String, Text, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column

from wafaa.channels.database import Base
from wafaa.common.db import HasCreatedAt, HasId, TenantScoped


class Delivery(TenantScoped, HasId, HasCreatedAt, Base):
    __tablename__ = "deliveries"
    __table_args__ = (UniqueConstraint("tenant_id", "message_id"),)

    message_id: Mapped[UUID]
    conversation_id: Mapped[UUID]
    channel: Mapped[str] = mapped_column(String(20))
    channel_id: Mapped[UUID | None]
    recipient_id: Mapped[str] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default="pending", server_default="pending")
    platform_message_id: Mapped[str | None] = mapped_column(String(200))
    error_code: Mapped[str | None] = mapped_column(String(50))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
