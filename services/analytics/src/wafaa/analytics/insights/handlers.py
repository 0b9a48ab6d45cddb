"""Subscribers of the insights domain."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from wafaa.analytics.insights import service
from wafaa.common.events import MessageReceived, ReplyReady


async def on_message_received(session: AsyncSession, event: MessageReceived) -> None:
    """A customer wrote."""
    await service.record_inbound(session, event)


async def on_reply_ready(session: AsyncSession, event: ReplyReady) -> None:
    """The concierge or an agent answered."""
    await service.record_outbound(session, event)
