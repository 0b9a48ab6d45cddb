"""What happens when a customer writes."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from wafaa.common.events import MessageReceived
from wafaa.rag.conversations.repository import ConversationRepository, MessageRepository


async def record_inbound(session: AsyncSession, event: MessageReceived) -> bool:
    """Store the customer's message in its conversation; False if it was a platform duplicate."""
    p = event.payload
    conversation = await ConversationRepository(session, event.tenant_id).get_or_create(
        p.channel, p.customer_id, channel_id=p.channel_id, customer_name=p.customer_name, last_message_at=p.received_at
    )
    return await MessageRepository(session, event.tenant_id).add_inbound(
        conversation_id=conversation.id,
        platform_message_id=p.platform_message_id,
        kind=p.kind,
        text=p.text,
        attachments=p.attachments,
        sent_at=p.received_at,
    )
