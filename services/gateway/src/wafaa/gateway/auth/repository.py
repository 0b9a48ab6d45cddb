"""Queries for authentication: the login lookup and refresh-token families."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from wafaa.common.db import TenantRepository
from wafaa.gateway.auth.models import RefreshToken
from wafaa.gateway.auth.schemas import LoginRecord

_FIND_LOGIN = text("SELECT tenant_id, user_id, password_hash, status FROM gateway.find_login(:email)")


async def find_login(session: AsyncSession, email: str) -> LoginRecord | None:
    """The one lookup that runs before a tenant is known: an exact email, through the SECURITY
    DEFINER function `gateway.find_login` (row-level security hides `users` without a tenant)."""
    row = (await session.execute(_FIND_LOGIN, {"email": email})).first()
    return LoginRecord(row.tenant_id, row.user_id, row.password_hash, row.status) if row else None


class RefreshTokenRepository(TenantRepository[RefreshToken]):
    model = RefreshToken

    async def get_for_update(self, jti: UUID) -> RefreshToken | None:
        """A refresh token of this tenant, locked so two rotations of one token serialize."""
        result = await self.session.execute(self.select().where(RefreshToken.id == jti).with_for_update())
        found: RefreshToken | None = result.scalar_one_or_none()
        return found

    async def insert(self, row: RefreshToken) -> RefreshToken:
        """Stage and flush a newly issued token."""
        self.add(row)
        await self.session.flush()
        return row

    async def revoke_family(self, family_id: UUID, at: datetime) -> None:
        """Revoke every live token of a family (reuse detected, or logout)."""
        await self.session.execute(
            self.update()
            .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
            .values(revoked_at=at)
        )
