"""The users table: emails are unique across all tenants, so a login names exactly one tenant."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, String, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column

from wafaa.common.db import HasCreatedAt, HasId, TenantScoped
from wafaa.gateway.database import Base

ROLES = ("owner", "admin", "agent")
STATUSES = ("active", "disabled")


class User(HasId, TenantScoped, HasCreatedAt, Base):
    __tablename__ = "users"
    __mapper_args__ = {"eager_defaults": True}  # noqa: RUF012 - read timestamps back with RETURNING
    __table_args__ = (
        UniqueConstraint("email"),
        UniqueConstraint("tenant_id", "id"),
        CheckConstraint("role IN ('owner', 'admin', 'agent')", name="role"),
        CheckConstraint("status IN ('active', 'disabled')", name="status"),
        CheckConstraint("email = lower(email)", name="email_lowercase"),
    )

    tenant_id: Mapped[UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    email: Mapped[str] = mapped_column(String(320))
    password_hash: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="active")
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )
