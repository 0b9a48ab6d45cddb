"""Queries on users, always within the current tenant."""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from sqlalchemy.exc import IntegrityError

from wafaa.common.db import TenantRepository
from wafaa.gateway.users.models import User


class UserRepository(TenantRepository[User]):
    model = User

    async def insert(self, user: User) -> User | None:
        """Insert a user; None when the email is taken (in any tenant), leaving the transaction usable."""
        try:
            async with self.session.begin_nested():
                self.add(user)
                await self.session.flush()
        except IntegrityError as exc:
            if "uq_users_email" in str(exc.orig):
                return None
            raise
        return user

    async def get_for_update(self, user_id: UUID) -> User | None:
        """A user of this tenant, locked until the transaction ends."""
        result = await self.session.execute(self.select().where(User.id == user_id).with_for_update())
        found: User | None = result.scalar_one_or_none()
        return found

    async def list_all(self) -> Sequence[User]:
        """Every user of the tenant, oldest first."""
        rows: Sequence[User] = (
            (await self.session.execute(self.select().order_by(User.created_at, User.id))).scalars().all()
        )
        return rows

    async def count_active_owners(self) -> int:
        """Active owners of the tenant, locking them so two demotions cannot both pass."""
        stmt = self.select(User.id).where(User.role == "owner", User.status == "active").with_for_update()
        return len((await self.session.execute(stmt)).all())

    async def remove(self, user: User) -> None:
        """Delete a user (their refresh tokens go with them)."""
        await self.session.execute(self.delete().where(User.id == user.id))
