"""Queries on the audit trail: insert and read only."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

from sqlalchemy import and_, or_

from wafaa.common.db import TenantRepository
from wafaa.gateway.audit.models import AuditLog
from wafaa.gateway.audit.schemas import AuditLogFilter


class AuditLogRepository(TenantRepository[AuditLog]):
    model = AuditLog

    async def insert(self, row: AuditLog) -> AuditLog:
        """Stage and flush one audit row."""
        self.add(row)
        await self.session.flush()
        return row

    async def search(
        self, filters: AuditLogFilter, *, limit: int, after: tuple[datetime, UUID] | None = None
    ) -> Sequence[AuditLog]:
        """Newest first, strictly older than the cursor position when one is given."""
        m = AuditLog
        stmt = self.select()
        if filters.actor_type:
            stmt = stmt.where(m.actor_type == filters.actor_type)
        if filters.actor_id:
            stmt = stmt.where(m.actor_id == filters.actor_id)
        if filters.action:
            stmt = stmt.where(m.action == filters.action)
        if filters.resource_type:
            stmt = stmt.where(m.resource_type == filters.resource_type)
        if filters.resource_id:
            stmt = stmt.where(m.resource_id == filters.resource_id)
        if filters.since:
            stmt = stmt.where(m.occurred_at >= filters.since)
        if filters.until:
            stmt = stmt.where(m.occurred_at < filters.until)
        if after is not None:
            at, row_id = after
            stmt = stmt.where(or_(m.occurred_at < at, and_(m.occurred_at == at, m.id < row_id)))
        stmt = stmt.order_by(m.occurred_at.desc(), m.id.desc()).limit(limit)
        rows: Sequence[AuditLog] = (await self.session.execute(stmt)).scalars().all()
        return rows
