"""A responder killed in the middle of finishing a turn: the reply is neither lost nor sent twice."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.fixtures.factories import message_received
from tests.fixtures.rag import messages, replies
from tests.fixtures.waiting import eventually
from wafaa.common.messaging import EventPublisher

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

ENV = {"embedding_provider": "hash", "llm_provider": "local", "turn_window_seconds": 1.0, "turn_lease_seconds": 2.0}


async def test_a_responder_killed_between_publishing_the_reply_and_committing_it_replies_once(
    start_service, publisher: EventPublisher, redis: Redis, admin_engine: AsyncEngine
) -> None:
    [rag] = start_service("rag", **ENV)
    tenant = uuid.uuid4()
    await publisher.publish(message_received(tenant, text="do you deliver to the airport?"))
    [inbound] = await eventually(lambda: messages(admin_engine, tenant), lambda m: len(m) == 1, timeout=15)
    async with admin_engine.connect() as holder:
        # A row lock on the inbound message: the turn publishes its reply, then waits on marking
        # the message answered, inside its still-open transaction. It is killed right there.
        await holder.execute(text("SELECT 1 FROM rag.messages WHERE id = :i FOR UPDATE"), {"i": inbound["id"]})
        [first] = await eventually(lambda: replies(redis, tenant), lambda r: len(r) == 1, timeout=15)
        rag.kill9()
        await holder.rollback()
    assert [m["direction"] for m in await messages(admin_engine, tenant)] == ["in"]  # nothing was committed
    start_service("rag", **ENV)  # the turn's lease runs out and the new process finishes it
    stored = await eventually(
        lambda: messages(admin_engine, tenant), lambda m: [x["direction"] for x in m] == ["in", "out"], timeout=20
    )
    await asyncio.sleep(1.5)  # a second turn, if there were one, would have published by now
    published = await replies(redis, tenant)
    # The reply may be published again, always under the same message id: the channel sender
    # delivers a message id once, so the customer gets exactly one answer.
    assert {r["message_id"] for r in published} == {first["message_id"]} == {str(stored[1]["id"])}
    assert stored[0]["answered"] is True
