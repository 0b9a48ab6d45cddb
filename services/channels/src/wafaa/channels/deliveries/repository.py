"""Queries on deliveries, their parts and customer windows.

The statements of a reply's path (intent, status, part, window) are built once and executed with
parameters, as in the analytics repository: building SQLAlchemy constructs anew for every reply (the
ORM's UPDATE with its session synchronisation, coerced values, a new statement's cache key) was a
visible share of the service's CPU in a py-spy profile of `bench.pipeline`. Reads and updates start
from `WHERE tenant_id = :tenant`, inserts carry `tenant_id`; a repository always binds its own tenant.
Parameters are named unlike any column (SQLAlchemy keeps a column's own name for the value an INSERT
or UPDATE sets from the parameters).
"""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import Any, cast
from uuid import UUID

from sqlalchemy import BindParameter, Table, bindparam, func, select, update
from sqlalchemy.dialects.postgresql import insert

from wafaa.channels.deliveries.models import CustomerWindow, Delivery, DeliveryPart
from wafaa.common.db import TenantRepository

TENANT: BindParameter[Any] = bindparam("tenant")
_DELIVERIES = cast(Table, Delivery.__table__)
_PARTS = cast(Table, DeliveryPart.__table__)
_WINDOWS = cast(Table, CustomerWindow.__table__)

_INTENT = insert(_DELIVERIES).on_conflict_do_nothing(index_elements=["tenant_id", "message_id"])
_FOR_MESSAGE = select(Delivery).where(Delivery.tenant_id == TENANT, Delivery.message_id == bindparam("message_ref"))
_FOR_MESSAGE_LOCKED = _FOR_MESSAGE.with_for_update()
_RECORD_PART = insert(_PARTS).on_conflict_do_nothing()


@cache
def _set_status(fields: tuple[str, ...]) -> Any:
    """`UPDATE deliveries SET status, updated_at = now(), <fields>` of one delivery of the tenant."""
    return (
        update(_DELIVERIES)
        .where(_DELIVERIES.c.tenant_id == TENANT, _DELIVERIES.c.id == bindparam("delivery_ref"))
        .values(
            {"status": bindparam("new_status"), "updated_at": func.now(), **{f: bindparam(f"new_{f}") for f in fields}}
        )
    )


def _touch_window() -> Any:
    stmt = insert(_WINDOWS)
    return stmt.on_conflict_do_update(
        index_elements=["channel", "customer_id", "tenant_id"],
        set_={"last_inbound_at": func.greatest(_WINDOWS.c.last_inbound_at, stmt.excluded.last_inbound_at)},
    )


_TOUCH_WINDOW = _touch_window()
_LAST_INBOUND = select(_WINDOWS.c.last_inbound_at).where(
    _WINDOWS.c.tenant_id == TENANT,
    _WINDOWS.c.channel == bindparam("channel_ref"),
    _WINDOWS.c.customer_id == bindparam("customer_ref"),
)


class DeliveryRepository(TenantRepository[Delivery]):
    model = Delivery

    async def for_message(self, message_id: UUID, *, lock: bool = False) -> Delivery | None:
        """The delivery of one outbound message (locked against a concurrent sender if asked)."""
        stmt = _FOR_MESSAGE_LOCKED if lock else _FOR_MESSAGE
        params = {"tenant": self.tenant_id, "message_ref": message_id}
        found: Delivery | None = (await self.session.execute(stmt, params)).scalar_one_or_none()
        return found

    async def record_intent(self, **fields: Any) -> Delivery:
        """Create the delivery row before any platform call (or return the existing one, locked)."""
        await self.session.execute(_INTENT, {"tenant_id": self.tenant_id, **fields})
        delivery = await self.for_message(fields["message_id"], lock=True)
        assert delivery is not None
        return delivery

    async def set_status(self, delivery_id: UUID, status: str, **fields: Any) -> None:
        """Move a delivery to a new status (a loaded `Delivery` object is not updated)."""
        params = {"tenant": self.tenant_id, "delivery_ref": delivery_id, "new_status": status}
        params.update({f"new_{name}": value for name, value in fields.items()})
        await self.session.execute(_set_status(tuple(sorted(fields))), params)


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
        params = {"tenant_id": self.tenant_id, "delivery_id": delivery_id, "ordinal": ordinal,
                  "platform_message_id": platform_message_id}  # fmt: skip
        await self.session.execute(_RECORD_PART, params)

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
        params = {"tenant_id": self.tenant_id, "channel": channel, "customer_id": customer_id, "last_inbound_at": at}
        await self.session.execute(_TOUCH_WINDOW, params)

    async def last_inbound(self, channel: str, customer_id: str) -> datetime | None:
        """When the customer last wrote on this channel."""
        params = {"tenant": self.tenant_id, "channel_ref": channel, "customer_ref": customer_id}
        found: datetime | None = (await self.session.execute(_LAST_INBOUND, params)).scalar_one_or_none()
        return found
