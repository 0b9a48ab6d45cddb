"""Subscribers of the conversations domain."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from wafaa.common.events import MessageReceived
from wafaa.rag.conversations import service


async def on_message_received(session: AsyncSession, event: MessageReceived) -> None:
    """A customer wrote: remember it in the conversation."""
    await service.record_inbound(session, event)
