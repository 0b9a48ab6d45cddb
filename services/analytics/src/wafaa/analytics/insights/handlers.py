"""Subscribers of the insights domain."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from wafaa.analytics.insights import service
from wafaa.common.events import (
    ConversationStatusChanged,
    DeliveryStatusChanged,
    MessageReceived,
    ReplyFailed,
    ReplyReady,
    ReplySent,
)


async def on_message_received(session: AsyncSession, event: MessageReceived) -> None:
    """A customer wrote."""
    await service.record_inbound(session, event)


async def on_reply_ready(session: AsyncSession, event: ReplyReady) -> None:
    """The concierge or an agent answered."""
    await service.record_outbound(session, event)


async def on_reply_sent(session: AsyncSession, event: ReplySent) -> None:
    """A reply reached the platform."""
    await service.record_sent(session, event)


async def on_reply_failed(session: AsyncSession, event: ReplyFailed) -> None:
    """A reply could not be sent."""
    await service.record_failed(session, event)


async def on_delivery_status_changed(session: AsyncSession, event: DeliveryStatusChanged) -> None:
    """The platform reported delivered, read or failed."""
    await service.record_delivery_status(session, event)


async def on_conversation_status_changed(session: AsyncSession, event: ConversationStatusChanged) -> None:
    """A conversation was handed off or resolved."""
    await service.record_conversation_status(session, event)
