"""The only way to query: repositories that start every statement from a tenant filter."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar, Generic, TypeVar
from uuid import UUID

from sqlalchemy import Delete, Select, Update, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from wafaa.common.db.base import TenantScoped

M = TypeVar("M", bound=TenantScoped)


class CrossTenantWriteError(RuntimeError):
    """A row of one tenant was about to be written inside another tenant's unit of work."""


class TenantRepository(Generic[M]):
    """Base of every repository: holds the session and the tenant, and scopes each statement."""

    model: ClassVar[type[Any]]

    def __init__(self, session: AsyncSession, tenant_id: UUID) -> None:
        self.session = session
        self.tenant_id = tenant_id

    def select(self, *columns: Any) -> Select[Any]:
        """`SELECT … WHERE tenant_id = :tenant` on the repository's table."""
        stmt = select(*columns) if columns else select(self.model)
        return stmt.where(self.model.tenant_id == self.tenant_id)

    def update(self) -> Update:
        """`UPDATE … WHERE tenant_id = :tenant`."""
        return update(self.model).where(self.model.tenant_id == self.tenant_id)

    def delete(self) -> Delete:
        """`DELETE … WHERE tenant_id = :tenant`."""
        return delete(self.model).where(self.model.tenant_id == self.tenant_id)

    async def get(self, row_id: Any) -> M | None:
        """A row of this tenant by primary key; another tenant's id is simply not found."""
        result = await self.session.execute(self.select().where(self.model.id == row_id))
        found: M | None = result.scalar_one_or_none()
        return found

    async def list(self, *criteria: Any, limit: int | None = None) -> Sequence[M]:
        """Rows of this tenant matching the criteria."""
        stmt = self.select().where(*criteria)
        if limit is not None:
            stmt = stmt.limit(limit)
        rows: Sequence[M] = (await self.session.execute(stmt)).scalars().all()
        return rows

    def add(self, row: M) -> M:
        """Stage a new row, stamped with this tenant (a row of another tenant is refused)."""
        if getattr(row, "tenant_id", None) is None:
            row.tenant_id = self.tenant_id
        elif row.tenant_id != self.tenant_id:
            raise CrossTenantWriteError(f"{type(row).__name__} belongs to another tenant")
        self.session.add(row)
        return row
