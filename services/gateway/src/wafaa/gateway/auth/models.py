"""Refresh tokens: one row per issued token; a family is every token rotated from one login."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from sqlalchemy import DateTime, ForeignKeyConstraint
from sqlalchemy.orm import Mapped, mapped_column

from wafaa.common.db import HasCreatedAt, HasId, TenantScoped
from wafaa.gateway.database import Base


class RefreshToken(HasId, TenantScoped, HasCreatedAt, Base):
    """`id` is the token's `jti`; the token itself is never stored."""

    __tablename__ = "refresh_tokens"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "user_id"], ["users.tenant_id", "users.id"], ondelete="CASCADE"),
    )

    user_id: Mapped[UUID] = mapped_column(index=True)
    family_id: Mapped[UUID] = mapped_column(index=True)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
