"""What the conversation queries return: plain, immutable records (the repository builds them from rows)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID


@dataclass(frozen=True, slots=True)
class ConversationState:
    """A conversation as the responder reads it."""

    id: UUID
    channel: str
    channel_id: UUID | None
    customer_id: str
    status: str


@dataclass(frozen=True, slots=True)
class StoredMessage:
    """A message of a conversation as the responder reads it."""

    id: UUID
    direction: str
    kind: str
    text: str | None
    platform_message_id: str | None
    sent_at: datetime
    request_id: str | None
