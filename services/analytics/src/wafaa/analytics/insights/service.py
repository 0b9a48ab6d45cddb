"""Turning conversation events into per-message insight rows."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from wafaa.analytics.insights.repository import InsightRepository
from wafaa.common.events import MessageReceived, ReplyReady


async def record_inbound(session: AsyncSession, event: MessageReceived) -> None:
    """One row per customer message."""
    p = event.payload
    await InsightRepository(session, event.tenant_id).add_once(
        direction="in",
        message_ref=p.platform_message_id,
        channel=p.channel,
        customer_id=p.customer_id,
        author="customer",
        text_length=len(p.text or ""),
        occurred_at=p.received_at,
    )


async def record_outbound(session: AsyncSession, event: ReplyReady) -> None:
    """One row per reply, the bot's or a human's."""
    p = event.payload
    await InsightRepository(session, event.tenant_id).add_once(
        direction="out",
        message_ref=str(p.message_id),
        channel=p.channel,
        customer_id=p.recipient_id,
        author=p.author,
        text_length=len(p.text),
        occurred_at=event.occurred_at,
    )
