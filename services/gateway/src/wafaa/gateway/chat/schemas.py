"""API shapes of the test chat."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # No NUL character: the rag service stores the message as text (Postgres refuses NUL).
    message: str = Field(min_length=1, max_length=4000, pattern=r"^[^\x00]*$")
    conversation_id: UUID | None = None


class ChatReply(BaseModel):
    reply: str
    sources: list[dict[str, Any]]
    conversation_id: UUID
    handoff: bool
    fallback: bool = False
