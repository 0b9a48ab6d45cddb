"""Delivering replies."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from wafaa.channels.deliveries.repository import DeliveryRepository
from wafaa.common.events import ReplyReady


async def record_intent(session: AsyncSession, event: ReplyReady) -> bool:
    """Write the delivery row before any platform call, so a redelivered reply never sends twice."""
    p = event.payload
    return await DeliveryRepository(session, event.tenant_id).record_intent(
        message_id=p.message_id,
        conversation_id=p.conversation_id,
        channel=p.channel,
        channel_id=p.channel_id,
        recipient_id=p.recipient_id,
        text=p.text,
    )
