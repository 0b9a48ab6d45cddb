"""Declarative bases: every service table is tenant-scoped unless it says otherwise."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID, uuid4

from sqlalchemy import DateTime, MetaData, String, func
from sqlalchemy.orm import DeclarativeBase, Mapped, declared_attr, mapped_column

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def service_metadata(schema: str) -> MetaData:
    """The metadata of one service's schema, with stable constraint names for migrations."""
    return MetaData(schema=schema, naming_convention=NAMING)


class TenantScoped:
    """Mixin for tables owned by one tenant: `tenant_id` first, indexed, under row-level security."""

    @declared_attr
    def tenant_id(cls) -> Mapped[UUID]:  # noqa: N805
        return mapped_column(index=True, nullable=False)


class HasId:
    """A random UUID primary key."""

    id: Mapped[UUID] = mapped_column(primary_key=True, default=uuid4)


class HasCreatedAt:
    """Creation time set by the database."""

    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class InboxMixin:
    """Events a consumer group has applied: written in the same transaction as the effect."""

    tenant_id: Mapped[UUID] = mapped_column(primary_key=True)
    consumer_group: Mapped[str] = mapped_column(String(64), primary_key=True)
    event_id: Mapped[UUID] = mapped_column(primary_key=True)
    consumer: Mapped[str] = mapped_column(String(200))
    processed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


__all__ = ["DeclarativeBase", "HasCreatedAt", "HasId", "InboxMixin", "TenantScoped", "service_metadata"]
