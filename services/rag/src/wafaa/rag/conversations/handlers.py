"""Subscribers of the conversations domain."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncSession

from wafaa.common.events import AgentReplied, ConversationStatusChanged, MessageReceived
from wafaa.common.messaging import EventPublisher
from wafaa.rag.conversations import service


async def on_message_received(session: AsyncSession, event: MessageReceived) -> None:
    """A customer wrote: remember it in the conversation (its turn is scheduled after the commit)."""
    await service.record_inbound(session, event)


async def on_status_changed(session: AsyncSession, event: ConversationStatusChanged) -> None:
    """An admin moved the conversation between bot, human and resolved."""
    await service.apply_status(session, event)


def on_agent_replied(publisher: EventPublisher) -> Callable[[AsyncSession, AgentReplied], Awaitable[None]]:
    """A human agent answered: store it as human-authored and hand it to the channel sender."""

    async def handle(session: AsyncSession, event: AgentReplied) -> None:
        reply = await service.record_agent_reply(session, event)
        if reply is not None:
            # Published before the commit: a failed commit redelivers the event and the same
            # message id is published again (the sender is idempotent on it), never lost.
            await publisher.publish(reply)

    return handle
