"""What happens when a customer writes, an admin changes a status, or an agent replies."""

from __future__ import annotations

from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from wafaa.common.events import (
    AgentReplied,
    ConversationStatusChanged,
    MessageReceived,
    ReplyReady,
    ReplyReadyPayload,
)
from wafaa.rag.conversations.repository import ConversationRepository, MessageRepository

# Kinds the bot never answers: a reaction, an unsent message, our own agent's reply seen as an
# echo, a shared location or contact card (stored for the agents to see).
SILENT_KINDS = frozenset({"reaction", "deleted", "agent_echo", "location", "contacts"})
# Kinds answered with the tenant's "I read text" message when they carry no text.
MEDIA_KINDS = frozenset({"image", "video", "audio", "voice", "sticker", "document", "unsupported", "file", "share"})


def needs_turn(event: MessageReceived) -> bool:
    """Whether the message should (re)schedule a bot turn for its conversation."""
    return event.payload.kind not in SILENT_KINDS


async def record_inbound(session: AsyncSession, event: MessageReceived) -> bool:
    """Store the customer's message in its conversation; False if it was a platform duplicate.

    A resolved conversation goes back to the bot (`open`) when the customer writes again. An echo
    of a reply a human typed in the Instagram app is stored as that human's message and makes the
    conversation human-owned. Reactions and unsends are stored and never answered.
    """
    p = event.payload
    conversations = ConversationRepository(session, event.tenant_id)
    conversation = await conversations.get_or_create(
        p.channel, p.customer_id, channel_id=p.channel_id, customer_name=p.customer_name, last_message_at=p.received_at
    )
    messages = MessageRepository(session, event.tenant_id)
    if p.kind == "agent_echo":
        await messages.add_outbound(
            conversation_id=conversation.id, author="human", text=p.text, platform_message_id=p.platform_message_id
        )
        await messages.mark_answered([m.id for m in await messages.unanswered(conversation.id)])
        await conversations.set_status(conversation.id, "handoff")
        return True
    stored = await messages.add_inbound(
        conversation_id=conversation.id,
        platform_message_id=p.platform_message_id,
        kind=p.kind,
        text=p.text,
        attachments=p.attachments,
        sent_at=p.received_at,
        request_id=p.request_id,
    )
    if stored and p.kind in SILENT_KINDS:
        await messages.mark_answered(
            [m.id for m in await messages.unanswered(conversation.id) if m.kind in SILENT_KINDS]
        )
    if stored and conversation.status == "resolved" and p.kind not in SILENT_KINDS:
        await conversations.set_status(conversation.id, "open")
    return stored


async def apply_status(session: AsyncSession, event: ConversationStatusChanged) -> None:
    """An admin (or the bot) moved the conversation; messages waiting for the bot are dropped on handoff."""
    p = event.payload
    conversations = ConversationRepository(session, event.tenant_id)
    conversation = await conversations.lock(p.conversation_id)
    if conversation is None or conversation.status == p.status:
        return
    await conversations.set_status(conversation.id, p.status)
    if p.status != "open":
        messages = MessageRepository(session, event.tenant_id)
        await messages.mark_answered([m.id for m in await messages.unanswered(conversation.id)])


async def record_agent_reply(session: AsyncSession, event: AgentReplied) -> ReplyReady | None:
    """Store a human agent's reply, make the conversation human-owned; the ReplyReady to publish."""
    p = event.payload
    conversations = ConversationRepository(session, event.tenant_id)
    conversation = await conversations.lock(p.conversation_id)
    if conversation is None:
        return None
    messages = MessageRepository(session, event.tenant_id)
    pending = await messages.unanswered(conversation.id)
    await messages.mark_answered([m.id for m in pending])
    message_id = await messages.add_outbound(p.message_id, conversation_id=conversation.id, author="human", text=p.text)
    await conversations.set_status(conversation.id, "handoff")
    await conversations.touch(conversation.id)
    return ReplyReady(
        tenant_id=event.tenant_id,
        payload=ReplyReadyPayload(
            conversation_id=conversation.id,
            message_id=message_id,
            channel=conversation.channel,  # type: ignore[arg-type]
            channel_id=conversation.channel_id,
            recipient_id=conversation.customer_id,
            text=p.text,
            author="human",
        ),
    )


def status_event(tenant_id: UUID, conversation_id: UUID, status: str, actor: str) -> ConversationStatusChanged:
    """The event announcing a status change."""
    from wafaa.common.events import ConversationStatusChangedPayload

    return ConversationStatusChanged(
        tenant_id=tenant_id,
        payload=ConversationStatusChangedPayload(conversation_id=conversation_id, status=status, actor=actor),  # type: ignore[arg-type]
    )
