"""Queries on message insights."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects.postgresql import insert

from wafaa.analytics.insights.models import MessageInsight
from wafaa.common.db import TenantRepository


class InsightRepository(TenantRepository[MessageInsight]):
    model = MessageInsight

    async def add_once(self, **fields: Any) -> None:
        """Record one message's insight; a message already recorded is left as it is."""
        await self.session.execute(
            insert(MessageInsight).values(tenant_id=self.tenant_id, **fields).on_conflict_do_nothing()
        )
