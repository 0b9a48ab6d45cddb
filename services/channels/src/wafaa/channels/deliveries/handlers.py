"""Subscribers of the deliveries domain."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from wafaa.channels.deliveries import service
from wafaa.common.events import DeliveryStatusChanged, MessageReceived


async def on_message_received(session: AsyncSession, event: MessageReceived) -> None:
    """A customer wrote: the reply window opens."""
    await service.remember_customer_wrote(session, event)


async def on_delivery_status_changed(session: AsyncSession, event: DeliveryStatusChanged) -> None:
    """The platform reported on one of our messages."""
    await service.apply_status(session, event)
