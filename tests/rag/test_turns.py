"""The rag service as a process: debounced turns, duplicates, handoff and human ownership."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime

import pytest
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.fixtures.factories import message_received
from tests.fixtures.rag import conversation, messages, replies
from tests.fixtures.waiting import eventually
from wafaa.common.events import (
    AgentReplied,
    AgentRepliedPayload,
    ConversationStatusChanged,
    ConversationStatusChangedPayload,
)
from wafaa.common.messaging import EventPublisher

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

ENV = {"embedding_provider": "hash", "llm_provider": "local", "turn_window_seconds": 1.0}


async def test_three_quick_messages_get_one_reply_and_a_duplicate_gets_none(
    start_service, publisher: EventPublisher, redis: Redis, admin_engine: AsyncEngine
) -> None:
    start_service("rag", **ENV)
    tenant = uuid.uuid4()
    events = [message_received(tenant, text=t) for t in ("hi", "quick question", "do you sell bitcoin?")]
    for event in events:
        await publisher.publish(event)
        await asyncio.sleep(0.1)
    [reply] = await eventually(lambda: replies(redis, tenant), lambda r: len(r) >= 1, timeout=15)
    assert reply["in_reply_to_platform_message_id"] == events[-1].payload.platform_message_id
    assert reply["recipient_id"] == "971500000001" and reply["fallback"] is True
    latest = max(e.payload.received_at for e in events)  # the 24-hour window runs from the last message
    assert datetime.fromisoformat(reply["customer_wrote_at"]) == latest
    await publisher.publish(events[1])  # the same platform message delivered again
    await publisher.publish(
        message_received(tenant, text="dup", platform_message_id=events[0].payload.platform_message_id)
    )
    await asyncio.sleep(2.5)
    assert len(await replies(redis, tenant)) == 1
    stored = await messages(admin_engine, tenant)
    assert [m["direction"] for m in stored] == ["in", "in", "in", "out"]


async def test_a_turn_is_claimed_when_it_falls_due_not_at_the_next_poll(
    start_service, publisher: EventPublisher, redis: Redis
) -> None:
    # The loop looks for due turns every 10 minutes here: only the process's own wake-up, at the end of
    # each turn's window, can answer these within the waits below.
    start_service("rag", **{**ENV, "turn_window_seconds": 0.2, "turn_poll_interval_ms": 600_000})
    tenant = uuid.uuid4()
    for n, question in enumerate(["do you sell bitcoin?", "and gift cards?"], start=1):
        await publisher.publish(message_received(tenant, text=question))
        answered = await eventually(lambda: replies(redis, tenant), lambda r, n=n: len(r) >= n, timeout=15)
        assert len(answered) == n


@pytest.mark.parametrize("phrase", ["I want to talk to a person", "أريد التحدث مع موظف"])
async def test_asking_for_a_human_hands_off_once_and_an_agent_then_owns_the_conversation(
    phrase: str, start_service, publisher: EventPublisher, redis: Redis, admin_engine: AsyncEngine
) -> None:
    start_service("rag", **{**ENV, "turn_window_seconds": 0.2})
    tenant = uuid.uuid4()
    await publisher.publish(message_received(tenant, text=phrase))
    [handoff] = await eventually(lambda: replies(redis, tenant), lambda r: len(r) >= 1)
    assert handoff["handoff"] is True
    # The reply is published just before the turn's transaction commits (a crash in between must not
    # lose it), so the stored status follows a moment later.
    conv = await eventually(
        lambda: conversation(admin_engine, tenant, "971500000001"), lambda c: c is not None and c["status"] == "handoff"
    )

    await publisher.publish(message_received(tenant, text="hello? anyone?"))
    await asyncio.sleep(1.5)
    assert len(await replies(redis, tenant)) == 1  # a human owns it: no bot reply

    agent_message = uuid.uuid4()
    await publisher.publish(
        AgentReplied(
            tenant_id=tenant,
            payload=AgentRepliedPayload(conversation_id=conv["id"], message_id=agent_message, text="Hi, Sara here."),
        )
    )
    all_replies = await eventually(lambda: replies(redis, tenant), lambda r: len(r) >= 2)
    assert all_replies[1]["author"] == "human" and all_replies[1]["message_id"] == str(agent_message)
    stored = {m["id"]: m for m in await messages(admin_engine, tenant)}
    assert stored[agent_message]["author"] == "human" and stored[agent_message]["direction"] == "out"

    await publisher.publish(
        ConversationStatusChanged(
            tenant_id=tenant,
            payload=ConversationStatusChangedPayload(conversation_id=conv["id"], status="resolved", actor="test"),
        )
    )
    await eventually(lambda: conversation(admin_engine, tenant, "971500000001"), lambda c: c["status"] == "resolved")
    await publisher.publish(message_received(tenant, text="one more thing: do you have shisha?"))
    third = await eventually(lambda: replies(redis, tenant), lambda r: len(r) >= 3)
    assert third[2]["author"] == "bot"
    assert (await conversation(admin_engine, tenant, "971500000001"))["status"] == "open"
