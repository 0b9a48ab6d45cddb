"""Outbound deliveries (owned by channels): intent first, each part's platform id after its send."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from sqlalchemy import DateTime, ForeignKeyConstraint, Integer, String, Text, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column

from wafaa.channels.database import Base
from wafaa.common.db import HasCreatedAt, HasId, TenantScoped

# Delivery states, by rank: a later status webhook never lowers one.
STATUS_RANK = {"sending": 0, "sent": 1, "delivered": 2, "read": 3}
FINAL_FAILURES = ("failed", "outside_window", "skipped")


class Delivery(TenantScoped, HasId, HasCreatedAt, Base):
    __tablename__ = "deliveries"
    __table_args__ = (UniqueConstraint("tenant_id", "message_id"), UniqueConstraint("tenant_id", "id"))

    message_id: Mapped[UUID]
    conversation_id: Mapped[UUID]
    channel: Mapped[str] = mapped_column(String(20))
    channel_id: Mapped[UUID | None]
    recipient_id: Mapped[str] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default="sending", server_default="sending")
    platform_message_id: Mapped[str | None] = mapped_column(String(200))
    error_code: Mapped[str | None] = mapped_column(String(50))
    error_message: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    parts: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class DeliveryPart(TenantScoped, HasId, HasCreatedAt, Base):
    """One platform message of a delivery (a long reply is sent in several parts)."""

    __tablename__ = "delivery_parts"
    __table_args__ = (
        UniqueConstraint("tenant_id", "delivery_id", "ordinal"),
        UniqueConstraint("tenant_id", "platform_message_id"),
        ForeignKeyConstraint(["tenant_id", "delivery_id"], ["channels.deliveries.tenant_id", "channels.deliveries.id"]),
    )

    delivery_id: Mapped[UUID]
    ordinal: Mapped[int] = mapped_column(Integer)
    platform_message_id: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20), default="sent", server_default="sent")
    error_code: Mapped[str | None] = mapped_column(String(50))
    status_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class CustomerWindow(TenantScoped, Base):
    """When a customer last wrote on a channel: free-form replies are allowed for 24 hours after."""

    __tablename__ = "customer_windows"

    channel: Mapped[str] = mapped_column(String(20), primary_key=True)
    customer_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    tenant_id: Mapped[UUID] = mapped_column(primary_key=True)
    last_inbound_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
