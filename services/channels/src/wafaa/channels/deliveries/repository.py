"""Queries on deliveries."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects.postgresql import insert

from wafaa.channels.deliveries.models import Delivery
from wafaa.common.db import TenantRepository


class DeliveryRepository(TenantRepository[Delivery]):
    model = Delivery

    async def record_intent(self, **fields: Any) -> bool:
        """Record that a reply is about to be sent; False if it was already recorded."""
        stmt = (
            insert(Delivery)
            .values(tenant_id=self.tenant_id, **fields)
            .on_conflict_do_nothing(index_elements=["tenant_id", "message_id"])
            .returning(Delivery.id)
        )
        return (await self.session.execute(stmt)).first() is not None
