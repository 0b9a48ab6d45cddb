"""Per-message insight rows (owned by analytics)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from wafaa.analytics.database import Base
from wafaa.common.db import HasCreatedAt, HasId, TenantScoped


class MessageInsight(TenantScoped, HasId, HasCreatedAt, Base):
    __tablename__ = "message_insights"
    __table_args__ = (UniqueConstraint("tenant_id", "direction", "message_ref"),)

    direction: Mapped[str] = mapped_column(String(10))
    message_ref: Mapped[str] = mapped_column(String(200))
    channel: Mapped[str] = mapped_column(String(20))
    customer_id: Mapped[str] = mapped_column(String(200))
    author: Mapped[str] = mapped_column(String(10))
    text_length: Mapped[int] = mapped_column(Integer, default=0)
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
