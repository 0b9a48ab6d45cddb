"""API shapes of conversations."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

Status = Literal["open", "handoff", "resolved"]


class MessageRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: UUID
    direction: str
    author: str
    kind: str
    text: str | None
    sources: list[dict[str, Any]]
    sent_at: datetime
    created_at: datetime
    delivery_status: str | None = None


class ConversationRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: UUID
    channel: str
    channel_id: UUID | None
    customer_id: str
    customer_name: str | None
    status: str
    created_at: datetime
    last_message_at: datetime
    message_count: int


class ConversationDetail(ConversationRead):
    messages: list[MessageRead]


class ConversationPage(BaseModel):
    items: list[ConversationRead]
    next_cursor: str | None


class ConversationUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: Status


class AgentMessageCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # No NUL character: the rag service stores the reply as text (Postgres refuses NUL).
    text: str = Field(min_length=1, max_length=4096, pattern=r"^[^\x00]*$")


class AgentMessageAccepted(BaseModel):
    message_id: UUID
    conversation_id: UUID
    status: Status
