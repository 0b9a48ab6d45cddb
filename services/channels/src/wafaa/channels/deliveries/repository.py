"""Queries on deliveries, their parts and customer windows."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import func
from sqlalchemy.dialects.postgresql import insert

from wafaa.channels.deliveries.models import CustomerWindow, Delivery, DeliveryPart
from wafaa.common.db import TenantRepository


class DeliveryRepository(TenantRepository[Delivery]):
    model = Delivery

    async def for_message(self, message_id: UUID, *, lock: bool = False) -> Delivery | None:
        """The delivery of one outbound message (locked against a concurrent sender if asked)."""
        stmt = self.select().where(Delivery.message_id == message_id)
        if lock:
            stmt = stmt.with_for_update()
        found: Delivery | None = (await self.session.execute(stmt)).scalar_one_or_none()
        return found

    async def record_intent(self, **fields: Any) -> Delivery:
        """Create the delivery row before any platform call (or return the existing one, locked)."""
        await self.session.execute(
            insert(Delivery)
            .values(tenant_id=self.tenant_id, **fields)
            .on_conflict_do_nothing(index_elements=["tenant_id", "message_id"])
        )
        delivery = await self.for_message(fields["message_id"], lock=True)
        assert delivery is not None
        return delivery

    async def set_status(self, delivery_id: UUID, status: str, **fields: Any) -> None:
        """Move a delivery to a new status."""
        await self.session.execute(
            self.update().where(Delivery.id == delivery_id).values(status=status, updated_at=func.now(), **fields)
        )


class PartRepository(TenantRepository[DeliveryPart]):
    model = DeliveryPart

    async def sent_parts(self, delivery_id: UUID) -> dict[int, str]:
        """Ordinal → platform message id of the parts already accepted by the platform."""
        rows = await self.session.execute(
            self.select(DeliveryPart.ordinal, DeliveryPart.platform_message_id).where(
                DeliveryPart.delivery_id == delivery_id
            )
        )
        return {r.ordinal: r.platform_message_id for r in rows}

    async def record(self, delivery_id: UUID, ordinal: int, platform_message_id: str) -> None:
        """Remember that one part was accepted, with its platform id."""
        await self.session.execute(
            insert(DeliveryPart)
            .values(
                tenant_id=self.tenant_id,
                delivery_id=delivery_id,
                ordinal=ordinal,
                platform_message_id=platform_message_id,
            )
            .on_conflict_do_nothing()
        )

    async def by_platform_id(self, platform_message_id: str) -> DeliveryPart | None:
        """The part a status webhook is about."""
        stmt = self.select().where(DeliveryPart.platform_message_id == platform_message_id).with_for_update()
        found: DeliveryPart | None = (await self.session.execute(stmt)).scalar_one_or_none()
        return found

    async def statuses(self, delivery_id: UUID) -> list[str]:
        """Current status of every part of a delivery."""
        rows = await self.session.execute(
            self.select(DeliveryPart.status).where(DeliveryPart.delivery_id == delivery_id)
        )
        return [r.status for r in rows]


class WindowRepository(TenantRepository[CustomerWindow]):
    model = CustomerWindow

    async def touch(self, channel: str, customer_id: str, at: datetime) -> None:
        """The customer wrote at `at` (later writes win)."""
        stmt = insert(CustomerWindow).values(
            tenant_id=self.tenant_id, channel=channel, customer_id=customer_id, last_inbound_at=at
        )
        await self.session.execute(
            stmt.on_conflict_do_update(
                index_elements=["channel", "customer_id", "tenant_id"],
                set_={"last_inbound_at": func.greatest(CustomerWindow.last_inbound_at, stmt.excluded.last_inbound_at)},
            )
        )

    async def last_inbound(self, channel: str, customer_id: str) -> datetime | None:
        """When the customer last wrote on this channel."""
        row = await self.session.execute(
            self.select(CustomerWindow.last_inbound_at).where(
                CustomerWindow.channel == channel, CustomerWindow.customer_id == customer_id
            )
        )
        return row.scalar_one_or_none()
