"""Queries on the tenant row: a tenant only ever sees its own."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, Update, select, update

from wafaa.common.db import TenantRepository
from wafaa.gateway.tenants.models import Tenant


class TenantRowRepository(TenantRepository[Any]):
    """The tenants table is keyed by `id`, which is its tenant column."""

    model = Tenant

    def select(self, *columns: Any) -> Select[Any]:
        """`SELECT … WHERE id = :tenant`."""
        stmt = select(*columns) if columns else select(Tenant)
        return stmt.where(Tenant.id == self.tenant_id)

    def update(self) -> Update:
        """`UPDATE … WHERE id = :tenant`."""
        return update(Tenant).where(Tenant.id == self.tenant_id)

    async def current(self, *, for_update: bool = False) -> Tenant | None:
        """The tenant of this unit of work."""
        stmt = self.select().with_for_update() if for_update else self.select()
        found: Tenant | None = (await self.session.execute(stmt)).scalar_one_or_none()
        return found

    async def insert(self, tenant: Tenant) -> Tenant:
        """Stage and flush the new tenant row (its id must be this unit of work's tenant)."""
        if tenant.id != self.tenant_id:
            raise ValueError("the new tenant's id must be the transaction's tenant")
        self.session.add(tenant)
        await self.session.flush()
        return tenant
