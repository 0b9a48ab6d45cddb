"""`/api/v1/conversations`: the inbox of the tenant's customer conversations."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Query, Request, status

from wafaa.common.conversations import ConversationFilter
from wafaa.gateway.auth.dependencies import AnyMember
from wafaa.gateway.conversations import service
from wafaa.gateway.conversations.schemas import (
    AgentMessageAccepted,
    AgentMessageCreate,
    ConversationDetail,
    ConversationPage,
    ConversationRead,
    ConversationUpdate,
)

router = APIRouter(prefix="/api/v1/conversations", tags=["conversations"])
ERRORS: dict[int | str, dict[str, Any]] = {401: {"description": "Not authenticated"}}
NOT_FOUND: dict[int | str, dict[str, Any]] = {**ERRORS, 404: {"description": "No such conversation"}}


@router.get("", responses=ERRORS)
async def list_conversations(
    principal: AnyMember,
    channel: Literal["whatsapp", "instagram", "web"] | None = None,
    status_: Annotated[Literal["open", "handoff", "resolved"] | None, Query(alias="status")] = None,
    customer: Annotated[str | None, Query(max_length=200)] = None,
    since: datetime | None = None,
    until: datetime | None = None,
    q: Annotated[str | None, Query(max_length=200, description="Text search in the messages")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: str | None = None,
) -> ConversationPage:
    """Conversations, newest activity first, filtered and paginated with a cursor."""
    flt = ConversationFilter(
        channel=channel,
        status=status_,
        customer=customer,
        since=since,
        until=until,
        search=q,
        limit=limit,
        cursor=cursor,
    )
    return await service.list_conversations(principal, flt)


@router.get("/{conversation_id}", responses=NOT_FOUND)
async def get_conversation(conversation_id: UUID, principal: AnyMember) -> ConversationDetail:
    """One conversation with its messages (direction, author, sources)."""
    return await service.get_conversation(principal, conversation_id)


@router.patch("/{conversation_id}", responses=NOT_FOUND)
async def update_conversation(
    conversation_id: UUID, body: ConversationUpdate, principal: AnyMember, request: Request
) -> ConversationRead:
    """Move the conversation to `open` (bot), `handoff` (human) or `resolved`."""
    return await service.change_status(principal, request.app.state.publisher, conversation_id, body)


@router.post("/{conversation_id}/messages", status_code=status.HTTP_202_ACCEPTED, responses=NOT_FOUND)
async def reply_as_agent(
    conversation_id: UUID, body: AgentMessageCreate, principal: AnyMember, request: Request
) -> AgentMessageAccepted:
    """Reply as a human agent; the conversation becomes human-owned."""
    return await service.agent_reply(principal, request.app.state.publisher, conversation_id, body)
