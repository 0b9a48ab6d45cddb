"""Subscribers of the channels domain."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from wafaa.common.events import ChannelPaused
from wafaa.gateway.channels import service


async def on_channel_paused(session: AsyncSession, event: ChannelPaused) -> None:
    """The sender saw an expired token: pause the channel and tell the admins (audit trail, status)."""
    await service.pause_for_expired_token(session, event.tenant_id, event.payload.channel_id, event.payload.reason)
