"""Which consumer group reads which stream: the one place the topology is written down."""

from __future__ import annotations

from typing import Any

from redis.asyncio import Redis
from redis.exceptions import ResponseError

from wafaa.common.events import (
    AgentReplied,
    ChannelPaused,
    ConversationStatusChanged,
    DeliveryStatusChanged,
    DocumentDeleted,
    DocumentReprocessRequested,
    DocumentStatusChanged,
    DocumentUploaded,
    Event,
    MessageReceived,
    ReplyFailed,
    ReplyReady,
    ReplySent,
)

GATEWAY = "gateway"
INGESTION = "ingestion"
RAG = "rag"
CHANNELS = "channels"
ANALYTICS = "analytics"

DLQ_SUFFIX = ".dlq"

# stream -> consumer groups (one group per service that reads it)
CONSUMER_GROUPS: dict[str, tuple[str, ...]] = {
    MessageReceived.stream: (RAG, CHANNELS, ANALYTICS),
    ReplyReady.stream: (CHANNELS, ANALYTICS),
    ReplySent.stream: (ANALYTICS,),
    ReplyFailed.stream: (ANALYTICS,),
    DeliveryStatusChanged.stream: (CHANNELS, ANALYTICS),
    ConversationStatusChanged.stream: (RAG, ANALYTICS),
    AgentReplied.stream: (RAG,),
    ChannelPaused.stream: (GATEWAY,),
    DocumentUploaded.stream: (INGESTION,),
    DocumentReprocessRequested.stream: (INGESTION,),
    DocumentDeleted.stream: (INGESTION,),
    DocumentStatusChanged.stream: (GATEWAY,),
}


def dead_letter_stream(stream: str) -> str:
    """Where messages of `stream` go once they have failed too often."""
    return stream + DLQ_SUFFIX


def groups_of(event_type: type[Event[Any]]) -> tuple[str, ...]:
    """The consumer groups that read an event type's stream."""
    return CONSUMER_GROUPS.get(event_type.stream, ())


async def ensure_groups(redis: Redis, groups: dict[str, tuple[str, ...]] | None = None) -> None:
    """Create every consumer group at id 0, so events published before a service first
    started are still delivered to it (a group created by the subscriber starts at `$`)."""
    for stream, names in (groups or CONSUMER_GROUPS).items():
        for group in names:
            try:
                await redis.xgroup_create(stream, group, id="0", mkstream=True)
            except ResponseError as exc:
                if "BUSYGROUP" not in str(exc):
                    raise
