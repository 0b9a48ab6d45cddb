"""Subscribers of the deliveries domain."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from wafaa.channels.deliveries import service
from wafaa.common.events import ReplyReady


async def on_reply_ready(session: AsyncSession, event: ReplyReady) -> None:
    """A reply is ready: record the delivery intent."""
    await service.record_intent(session, event)
