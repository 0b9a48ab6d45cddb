"""The live answer of a dashboard chat request, keyed by its request id.

The gateway subscribes to `tenant:{tenant_id}:chat:{request_id}` (Redis pub/sub) *before* it
publishes the `MessageReceived` that carries the request id; the rag service publishes the
tokens there as they are generated, then one final `reply` update. Pub/sub is fire-and-forget,
which is right for a waiting HTTP request: the durable record is the stored message and `ReplyReady`.
"""

from __future__ import annotations

from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, Field


def chat_channel(tenant_id: UUID, request_id: str) -> str:
    """The pub/sub channel of one chat request of one tenant."""
    return f"tenant:{tenant_id}:chat:{request_id}"


class ChatUpdate(BaseModel):
    """A token of the reply being generated, or the finished reply."""

    type: Literal["token", "reply"]
    text: str = ""
    conversation_id: UUID | None = None
    message_id: UUID | None = None
    sources: list[dict[str, Any]] = Field(default_factory=list)
    handoff: bool = False
    fallback: bool = False
