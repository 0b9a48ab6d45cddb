"""Channel records: one per connected WhatsApp number or Instagram account, secrets encrypted."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, String, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column

from wafaa.common.db import HasCreatedAt, HasId, TenantScoped
from wafaa.gateway.database import Base

PLATFORMS = ("whatsapp", "instagram")


class Channel(HasId, TenantScoped, HasCreatedAt, Base):
    __tablename__ = "channels"
    __mapper_args__ = {"eager_defaults": True}  # noqa: RUF012 - read timestamps back with RETURNING
    __table_args__ = (
        # A number or account belongs to one tenant at most: webhooks are routed by it.
        UniqueConstraint("platform", "external_account_id"),
        UniqueConstraint("tenant_id", "id"),
        CheckConstraint("platform IN ('whatsapp', 'instagram')", name="platform"),
        CheckConstraint("status IN ('active', 'paused')", name="status"),
    )

    tenant_id: Mapped[UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    platform: Mapped[str] = mapped_column(String(20))
    external_account_id: Mapped[str] = mapped_column(String(100))
    name: Mapped[str | None] = mapped_column(String(200))
    waba_id: Mapped[str | None] = mapped_column(String(100))
    display_phone_number: Mapped[str | None] = mapped_column(String(50))
    page_id: Mapped[str | None] = mapped_column(String(100))
    access_token_encrypted: Mapped[str] = mapped_column(String(4000))
    access_token_last4: Mapped[str] = mapped_column(String(10))
    app_secret_encrypted: Mapped[str | None] = mapped_column(String(4000))
    verify_token_encrypted: Mapped[str | None] = mapped_column(String(4000))
    status: Mapped[str] = mapped_column(String(16), default="active", server_default="active")
    paused_reason: Mapped[str | None] = mapped_column(String(300))
    token_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )


@dataclass(frozen=True)
class WebhookRoute:
    """Where a webhook for one account goes: its tenant, channel, state and own app secret (if any)."""

    tenant_id: UUID
    channel_id: UUID
    status: str
    app_secret_encrypted: str | None
