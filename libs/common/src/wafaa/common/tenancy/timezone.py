"""Read interface of a tenant's time zone (owned by the gateway in `gateway.tenants.settings`)."""

from __future__ import annotations

from uuid import UUID
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

DEFAULT_TIMEZONE = "UTC"
_TIMEZONE = text("SELECT settings ->> 'timezone' FROM gateway.tenants WHERE id = :t")


def zone(name: str | None) -> ZoneInfo:
    """The named IANA zone, or UTC when the name is missing or unknown."""
    try:
        return ZoneInfo(name or DEFAULT_TIMEZONE)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(DEFAULT_TIMEZONE)


async def read_timezone(session: AsyncSession, tenant_id: UUID) -> ZoneInfo:
    """The tenant's time zone from its settings; UTC when it has none (row-level security applies)."""
    row = (await session.execute(_TIMEZONE, {"t": tenant_id})).first()
    return zone(row[0] if row else None)
