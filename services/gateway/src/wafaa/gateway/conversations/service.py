"""Conversations: read through rag's read interface, changed by events the rag service applies."""

from __future__ import annotations

import uuid
from uuid import UUID

from wafaa.common.conversations import ConversationFilter, ConversationReader, ConversationRow
from wafaa.common.events import AgentReplied, AgentRepliedPayload, ConversationStatusChanged
from wafaa.common.events import ConversationStatusChangedPayload as StatusPayload
from wafaa.common.messaging import EventPublisher
from wafaa.gateway.audit import service as audit
from wafaa.gateway.auth.dependencies import Principal
from wafaa.gateway.conversations.schemas import (
    AgentMessageAccepted,
    AgentMessageCreate,
    ConversationDetail,
    ConversationPage,
    ConversationRead,
    ConversationUpdate,
    MessageRead,
)
from wafaa.gateway.errors import ApiError


def not_found() -> ApiError:
    return ApiError(404, "conversation_not_found", "No such conversation.")


async def _get(principal: Principal, conversation_id: UUID) -> ConversationRow:
    row = await ConversationReader(principal.session, principal.tenant_id).get(conversation_id)
    if row is None:
        raise not_found()
    return row


async def list_conversations(principal: Principal, flt: ConversationFilter) -> ConversationPage:
    """A page of the tenant's conversations."""
    rows, cursor = await ConversationReader(principal.session, principal.tenant_id).page(flt)
    return ConversationPage(items=[ConversationRead.model_validate(r) for r in rows], next_cursor=cursor)


async def get_conversation(principal: Principal, conversation_id: UUID) -> ConversationDetail:
    """One conversation with its messages."""
    row = await _get(principal, conversation_id)
    messages = await ConversationReader(principal.session, principal.tenant_id).messages(conversation_id)
    return ConversationDetail(
        **ConversationRead.model_validate(row).model_dump(), messages=[MessageRead.model_validate(m) for m in messages]
    )


async def change_status(
    principal: Principal, publisher: EventPublisher, conversation_id: UUID, body: ConversationUpdate
) -> ConversationRead:
    """Ask the rag service to move the conversation; the conversation as it will be."""
    row = await _get(principal, conversation_id)
    await audit.record(
        principal.session,
        principal.tenant_id,
        principal.actor,
        "conversation.status_changed",
        "conversation",
        conversation_id,
        {"status": {"from": row.status, "to": body.status}},
    )
    actor = f"user:{principal.user.id}"
    await publisher.publish(
        ConversationStatusChanged(
            tenant_id=principal.tenant_id,
            payload=StatusPayload(conversation_id=conversation_id, status=body.status, actor=actor),
        ),
        request_id=principal.actor.request_id,
    )
    return ConversationRead.model_validate(row).model_copy(update={"status": body.status})


async def agent_reply(
    principal: Principal, publisher: EventPublisher, conversation_id: UUID, body: AgentMessageCreate
) -> AgentMessageAccepted:
    """A human agent's reply: the rag service stores it and hands it to the channel sender."""
    await _get(principal, conversation_id)
    message_id = uuid.uuid4()
    await audit.record(
        principal.session,
        principal.tenant_id,
        principal.actor,
        "conversation.agent_replied",
        "conversation",
        conversation_id,
        {"message_id": str(message_id), "length": len(body.text)},
    )
    await publisher.publish(
        AgentReplied(
            tenant_id=principal.tenant_id,
            payload=AgentRepliedPayload(
                conversation_id=conversation_id, message_id=message_id, text=body.text, agent_id=principal.user.id
            ),
        ),
        request_id=principal.actor.request_id,
    )
    return AgentMessageAccepted(message_id=message_id, conversation_id=conversation_id, status="handoff")
