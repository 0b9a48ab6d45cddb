"""Asking the rag service: publish a `MessageReceived` with a request id, wait on its chat channel.

The gateway subscribes to `tenant:{tenant}:chat:{request_id}` (Redis pub/sub) before publishing,
so no update can be missed; the rag service publishes tokens there while generating and one final
`reply`. Any gateway replica can serve the request (no consumer group is involved), and the
durable record stays the stored messages and the `ReplyReady` event.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from redis.asyncio import Redis
from redis.asyncio.client import PubSub

from wafaa.common.conversations import ChatUpdate, ConversationReader, chat_channel
from wafaa.common.events import MessageReceived, MessageReceivedPayload, utcnow
from wafaa.common.messaging import EventPublisher
from wafaa.gateway.audit import service as audit
from wafaa.gateway.auth.dependencies import Principal
from wafaa.gateway.chat.schemas import ChatReply, ChatRequest
from wafaa.gateway.errors import ApiError


def chat_timeout() -> ApiError:
    return ApiError(504, "chat_timeout", "The concierge did not answer in time; please try again.")


@dataclass
class PendingChat:
    """A published chat request whose answer arrives on `pubsub`."""

    request_id: str
    pubsub: PubSub
    deadline: float

    async def updates(self) -> AsyncIterator[ChatUpdate]:
        """Token and reply updates until the reply (raises the 504 error on timeout)."""
        try:
            while True:
                remaining = self.deadline - time.monotonic()
                if remaining <= 0:
                    raise chat_timeout()
                message = await self.pubsub.get_message(ignore_subscribe_messages=True, timeout=min(remaining, 1.0))
                if message is None or message.get("type") != "message":
                    continue
                update = ChatUpdate.model_validate_json(message["data"])
                yield update
                if update.type == "reply":
                    return
        finally:
            await self.pubsub.aclose()


async def send(
    principal: Principal, redis: Redis, publisher: EventPublisher, body: ChatRequest, wait_seconds: float
) -> PendingChat:
    """Publish the admin's test message for the rag service; the pending answer."""
    if body.conversation_id is not None:
        conversation = await ConversationReader(principal.session, principal.tenant_id).get(body.conversation_id)
        if conversation is None or conversation.channel != "web":
            raise ApiError(404, "conversation_not_found", "No such conversation.")
        customer_id = conversation.customer_id
    else:
        customer_id = f"dashboard:{principal.user.id}:{uuid.uuid4().hex[:12]}"
    request_id = uuid.uuid4().hex
    pubsub = redis.pubsub()
    await pubsub.subscribe(chat_channel(principal.tenant_id, request_id))
    event = MessageReceived(
        tenant_id=principal.tenant_id,
        payload=MessageReceivedPayload(
            channel="web",
            platform_message_id=f"web:{request_id}",
            customer_id=customer_id,
            customer_name=principal.user.email,
            text=body.message,
            received_at=utcnow(),
            request_id=request_id,
        ),
    )
    await audit.record(
        principal.session,
        principal.tenant_id,
        principal.actor,
        "chat.message_sent",
        "conversation",
        body.conversation_id,
        {"request_id": request_id, "length": len(body.message)},
    )
    try:
        await publisher.publish(event, request_id=request_id)
    except Exception:
        await pubsub.aclose()
        raise
    return PendingChat(request_id, pubsub, time.monotonic() + wait_seconds)


async def wait_reply(pending: PendingChat) -> ChatReply:
    """The finished reply."""
    async for update in pending.updates():
        if update.type == "reply":
            assert update.conversation_id is not None
            return ChatReply(
                reply=update.text,
                sources=update.sources,
                conversation_id=update.conversation_id,
                handoff=update.handoff,
                fallback=update.fallback,
            )
    raise chat_timeout()


def sse(event: str, data: dict[str, Any]) -> bytes:
    """One server-sent event."""
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n".encode()


async def stream_events(pending: PendingChat) -> AsyncIterator[bytes]:
    """`token` events as generated, then `reply` (or `error` with code `chat_timeout`)."""
    try:
        async for update in pending.updates():
            if update.type == "token":
                yield sse("token", {"text": update.text})
            else:
                yield sse(
                    "reply",
                    ChatReply(
                        reply=update.text,
                        sources=update.sources,
                        conversation_id=update.conversation_id or UUID(int=0),
                        handoff=update.handoff,
                        fallback=update.fallback,
                    ).model_dump(mode="json"),
                )
    except ApiError as exc:
        yield sse("error", {"code": exc.code, "message": exc.message})
    except asyncio.CancelledError:
        raise
