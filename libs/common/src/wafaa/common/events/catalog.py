"""Every event of the system, its payload and its stream (`wafaa.<event>`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import Field

from wafaa.common.events.envelope import Event, Payload

Channel = Literal["whatsapp", "instagram", "web"]


class Source(Payload):
    """A piece of knowledge an answer was grounded in."""

    document_id: UUID
    title: str
    location: str | None = None
    chunk_id: UUID | None = None
    score: float | None = None


# --- Conversations -------------------------------------------------------------------------


class MessageReceivedPayload(Payload):
    channel: Channel
    channel_id: UUID | None = None
    platform_message_id: str
    customer_id: str
    customer_name: str | None = None
    kind: str = "text"
    text: str | None = None
    received_at: datetime
    reply_to_platform_message_id: str | None = None
    attachments: list[dict[str, Any]] = Field(default_factory=list)
    request_id: str | None = None
    channel_paused: bool = False


class MessageReceived(Event[MessageReceivedPayload]):
    """A customer (or an admin in the test chat) wrote to the concierge."""

    type: Literal["message.received"] = "message.received"
    stream = "wafaa.message.received"


class ReplyReadyPayload(Payload):
    conversation_id: UUID
    message_id: UUID
    channel: Channel
    channel_id: UUID | None = None
    recipient_id: str
    text: str
    author: Literal["bot", "human"] = "bot"
    in_reply_to_platform_message_id: str | None = None
    sources: list[Source] = Field(default_factory=list)
    handoff: bool = False
    fallback: bool = False
    options: list[str] = Field(default_factory=list)
    request_id: str | None = None
    # When the customer last wrote, as the replier knows it: the platform's 24-hour reply window runs
    # from then. The channel sender also learns it from MessageReceived, which it may read later.
    customer_wrote_at: datetime | None = None


class ReplyReady(Event[ReplyReadyPayload]):
    """A reply (the bot's or a human agent's) is ready to be sent on its channel."""

    type: Literal["reply.ready"] = "reply.ready"
    stream = "wafaa.reply.ready"


class ReplyDeliveryPayload(Payload):
    message_id: UUID
    conversation_id: UUID
    channel: Channel
    delivery_id: UUID | None = None
    platform_message_id: str | None = None
    error_code: str | None = None
    error_message: str | None = None


class ReplySent(Event[ReplyDeliveryPayload]):
    """The channel sender handed a reply to the platform."""

    type: Literal["reply.sent"] = "reply.sent"
    stream = "wafaa.reply.sent"


class ReplyFailed(Event[ReplyDeliveryPayload]):
    """The channel sender gave up on a reply."""

    type: Literal["reply.failed"] = "reply.failed"
    stream = "wafaa.reply.failed"


class DeliveryStatusChangedPayload(Payload):
    channel: Channel
    platform_message_id: str
    status: Literal["sent", "delivered", "read", "failed", "deleted"]
    recipient_id: str | None = None
    status_at: datetime
    error_code: str | None = None
    error_message: str | None = None


class DeliveryStatusChanged(Event[DeliveryStatusChangedPayload]):
    """The platform reported a new state for one of our outbound messages."""

    type: Literal["delivery.status_changed"] = "delivery.status_changed"
    stream = "wafaa.delivery.status_changed"


class ConversationStatusChangedPayload(Payload):
    conversation_id: UUID
    status: Literal["open", "handoff", "resolved"]
    actor: str


class ConversationStatusChanged(Event[ConversationStatusChangedPayload]):
    """An admin or the bot moved a conversation between bot, human and resolved."""

    type: Literal["conversation.status_changed"] = "conversation.status_changed"
    stream = "wafaa.conversation.status_changed"


class AgentRepliedPayload(Payload):
    conversation_id: UUID
    message_id: UUID
    text: str
    agent_id: UUID | None = None


class AgentReplied(Event[AgentRepliedPayload]):
    """A human agent answered a customer from the dashboard; the conversation is now human-owned."""

    type: Literal["agent.replied"] = "agent.replied"
    stream = "wafaa.agent.replied"


class ChannelPausedPayload(Payload):
    channel_id: UUID
    reason: str
    error_code: str | None = None


class ChannelPaused(Event[ChannelPausedPayload]):
    """The channel sender stopped using a channel (its token expired); admins must reconnect it."""

    type: Literal["channel.paused"] = "channel.paused"
    stream = "wafaa.channel.paused"


# --- Knowledge -----------------------------------------------------------------------------


class DocumentUploadedPayload(Payload):
    document_id: UUID
    storage_path: str
    content_type: str
    title: str
    chunk_size: int = 400
    chunk_overlap: int = 50
    language: str | None = None
    tags: list[str] = Field(default_factory=list)
    valid_from: datetime | None = None
    valid_to: datetime | None = None
    # Which upload or reprocess of the document this is; echoed in its status events.
    generation: int = 0


class DocumentUploaded(Event[DocumentUploadedPayload]):
    """An admin uploaded a document; it waits to be extracted, chunked and indexed."""

    type: Literal["document.uploaded"] = "document.uploaded"
    stream = "wafaa.document.uploaded"


class DocumentReprocessRequested(Event[DocumentUploadedPayload]):
    """An admin asked to index a document again (new chunk settings, new embedder)."""

    type: Literal["document.reprocess_requested"] = "document.reprocess_requested"
    stream = "wafaa.document.reprocess_requested"


class DocumentDeletedPayload(Payload):
    document_id: UUID


class DocumentDeleted(Event[DocumentDeletedPayload]):
    """An admin deleted a document; its chunks and vectors must go everywhere."""

    type: Literal["document.deleted"] = "document.deleted"
    stream = "wafaa.document.deleted"


class DocumentStatusChangedPayload(Payload):
    document_id: UUID
    status: Literal["processing", "ready", "failed"]
    progress: float = 0.0
    reason: str | None = None
    page_count: int | None = None
    chunk_count: int | None = None
    duration_ms: int | None = None
    generation: int = 0


class DocumentStatusChanged(Event[DocumentStatusChangedPayload]):
    """Ingestion moved a document along `processing → ready | failed`."""

    type: Literal["document.status_changed"] = "document.status_changed"
    stream = "wafaa.document.status_changed"


ALL_EVENTS: tuple[type[Event[Any]], ...] = (
    MessageReceived,
    ChannelPaused,
    ReplyReady,
    ReplySent,
    ReplyFailed,
    DeliveryStatusChanged,
    ConversationStatusChanged,
    AgentReplied,
    DocumentUploaded,
    DocumentReprocessRequested,
    DocumentDeleted,
    DocumentStatusChanged,
)
