"""Seeded events through the analytics service (a process) give the numbers computed from the raw events."""

from __future__ import annotations

import math
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.fixtures.factories import message_received, reply_ready
from tests.fixtures.gateway import add_user, create_tenant_with_owner, gateway_settings, headers_for, running_gateway
from tests.fixtures.waiting import eventually
from wafaa.common.events import (
    ConversationStatusChanged,
    ConversationStatusChangedPayload,
    DeliveryStatusChanged,
    DeliveryStatusChangedPayload,
    Event,
    ReplyDeliveryPayload,
    ReplyFailed,
    ReplySent,
)
from wafaa.common.messaging import CONSUMER_GROUPS, EventPublisher

pytestmark = [pytest.mark.integration]


def percentile(values: list[float], q: float) -> float:
    """Linear interpolation between closest ranks (Postgres percentile_cont)."""
    ordered = sorted(values)
    pos = q * (len(ordered) - 1)
    low, high = math.floor(pos), math.ceil(pos)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def seed(tenant: uuid.UUID, base: datetime, customers: int) -> tuple[list[Event[Any]], dict[str, Any]]:
    """Conversations with bot replies, fallbacks, handoffs, human replies, deliveries and failures,
    and the figures expected from them."""
    events: list[Event[Any]] = []
    bot_times: list[float] = []
    human_times: list[float] = []
    expect = {"in": 0, "out": 0, "escalated": 0, "bot_resolved": 0, "sent": 0, "reply_failed": 0,
              "status_failed": 0, "delivered": 0, "read": 0, "whatsapp_in": 0}  # fmt: skip
    for i in range(customers):
        channel = "whatsapp" if i % 3 else "instagram"
        customer = f"cust-{tenant.hex[:6]}-{i}"
        at = base + timedelta(minutes=37 * i)
        texts = ["Where is my order?", "Do you have vegan options?", "الاكل بارد ومتاخر 😡", "Thanks, delicious!"]
        inbound = message_received(tenant, texts[i % 4], channel=channel, customer_id=customer, received_at=at)
        events.append(inbound)
        expect["in"] += 1
        expect["whatsapp_in"] += channel == "whatsapp"
        conversation = uuid.uuid4()
        fallback, handoff = i % 5 == 1, i % 7 == 2
        bot = reply_ready(tenant, "ok", channel=channel, recipient_id=customer, conversation_id=conversation,
                          in_reply_to_platform_message_id=inbound.payload.platform_message_id,
                          fallback=fallback, handoff=handoff)  # fmt: skip
        bot.occurred_at = at + timedelta(seconds=2 + i)
        events.append(bot)
        expect["out"] += 1
        escalated = handoff
        if i % 6 == 4:  # the sender gave up on this reply
            events.append(ReplyFailed(tenant_id=tenant, occurred_at=at + timedelta(seconds=5),
                                      payload=ReplyDeliveryPayload(message_id=bot.payload.message_id,
                                                                   conversation_id=conversation, channel=channel,
                                                                   error_code="130429")))  # fmt: skip
            expect["reply_failed"] += 1
        else:
            sent_at = at + timedelta(seconds=3 + 2 * i)
            wamid = f"wamid.out.{uuid.uuid4().hex}"
            events.append(ReplySent(tenant_id=tenant, occurred_at=sent_at,
                                    payload=ReplyDeliveryPayload(message_id=bot.payload.message_id,
                                                                 conversation_id=conversation, channel=channel,
                                                                 platform_message_id=wamid)))  # fmt: skip
            expect["sent"] += 1
            bot_times.append((sent_at - at).total_seconds())
            status = ["delivered", "read", "failed", "sent"][i % 4]
            if status != "sent":
                events.append(DeliveryStatusChanged(tenant_id=tenant, payload=DeliveryStatusChangedPayload(
                    channel=channel, platform_message_id=wamid, status=status, status_at=sent_at + timedelta(seconds=1),
                    error_code="131047" if status == "failed" else None)))  # fmt: skip
                expect["delivered"] += status in ("delivered", "read")
                expect["read"] += status == "read"
                expect["status_failed"] += status == "failed"
        if i % 4 == 3:  # an agent answers later; the bot reply does not stop the human clock
            human = reply_ready(tenant, "Sorry!", channel=channel, recipient_id=customer, conversation_id=conversation,
                                author="human")  # fmt: skip
            human.occurred_at = at + timedelta(minutes=5 + i)
            human_sent = human.occurred_at + timedelta(seconds=1)
            events.append(human)
            events.append(ReplySent(tenant_id=tenant, occurred_at=human_sent,
                                    payload=ReplyDeliveryPayload(message_id=human.payload.message_id,
                                                                 conversation_id=conversation, channel=channel)))  # fmt: skip  # noqa: E501
            expect["out"] += 1
            expect["sent"] += 1
            human_times.append((human_sent - at).total_seconds())
            escalated = True
        if i % 3 == 0:
            events.append(ConversationStatusChanged(tenant_id=tenant, occurred_at=at + timedelta(hours=1),
                                                    payload=ConversationStatusChangedPayload(
                                                        conversation_id=conversation, status="resolved", actor="t")))  # fmt: skip  # noqa: E501
        expect["escalated"] += escalated
        expect["bot_resolved"] += (not fallback and not handoff) and not escalated
    expect.update(customers=customers, bot_times=bot_times, human_times=human_times)
    return events, expect


async def publish_all(publisher: EventPublisher, events: list[Event[Any]]) -> None:
    inbound = [e for e in events if e.type == "message.received"]
    for event in inbound:  # customers write before anyone answers them
        await publisher.publish(event)
    for event in events:
        if event.type != "message.received":
            await publisher.publish(event)


async def drained(redis: Any) -> bool:
    """Every stream analytics reads has been read and acknowledged by its group."""
    for stream, groups in CONSUMER_GROUPS.items():
        if "analytics" not in groups or not await redis.exists(stream):
            continue
        for group in await redis.xinfo_groups(stream):
            name = group["name"].decode() if isinstance(group["name"], bytes) else group["name"]
            if name == "analytics" and (group["pending"] or group.get("lag")):
                return False
    return True


async def processed(engine: AsyncEngine, tenant: uuid.UUID) -> int:
    async with engine.connect() as conn:
        sql = text("SELECT count(*) FROM analytics.processed_events WHERE tenant_id = :t")
        return int((await conn.execute(sql, {"t": tenant})).scalar_one())


async def test_seeded_events_give_the_numbers_of_the_raw_events_once_and_per_tenant(
    infra, start_service, publisher: EventPublisher, admin_engine: AsyncEngine, redis: Any
) -> None:
    start_service("analytics")
    async with running_gateway(gateway_settings(infra)) as (app, client):
        owner_a = await create_tenant_with_owner(app, "A")
        owner_b = await create_tenant_with_owner(app, "B")
        agent = await add_user(app, owner_a.tenant_id, "agent")
        base = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(days=1)
        events_a, expect = seed(owner_a.tenant_id, base, 24)
        events_b, _ = seed(owner_b.tenant_id, base, 9)
        await publish_all(publisher, events_a + events_b)
        await eventually(lambda: processed(admin_engine, owner_a.tenant_id), lambda n: n == len(events_a), timeout=60)
        await eventually(lambda: processed(admin_engine, owner_b.tenant_id), lambda n: n == len(events_b), timeout=60)

        async with admin_engine.connect() as conn:
            tz_name = (await conn.execute(text("SELECT settings->>'timezone' FROM gateway.tenants WHERE id = :t"),
                                          {"t": owner_a.tenant_id})).scalar_one()  # fmt: skip
        tz = ZoneInfo(tz_name or "UTC")
        start = (base - timedelta(days=1)).astimezone(tz).date()
        end = (datetime.now(UTC) + timedelta(days=1)).astimezone(tz).date()
        params = {"from": start.isoformat(), "to": end.isoformat()}
        headers = await headers_for(client, owner_a)

        async def snapshot() -> dict[str, Any]:
            out = {}
            for path in ("overview", "trends", "channels", "agent/sentiment", "agent/response-times", "agent/insights"):
                r = await client.get(f"/api/v1/analytics/{path}", params=params, headers=headers)
                assert r.status_code == 200, r.text
                out[path] = r.json()
            return out

        first = await snapshot()
        o = first["overview"]["current"]
        n = expect["customers"]
        attempts = expect["sent"] + expect["reply_failed"]
        assert o["messages_in"] == expect["in"] and o["messages_out"] == expect["out"]
        assert o["conversations"] == n and o["active_customers"] == n
        assert o["handoff_rate"] == round(expect["escalated"] / n, 4)
        assert o["bot_resolution_rate"] == round(expect["bot_resolved"] / n, 4)
        assert o["delivery_success_rate"] == round(
            (attempts - expect["reply_failed"] - expect["status_failed"]) / attempts, 4
        )
        bot = expect["bot_times"]
        assert o["avg_response_seconds"] == round(sum(bot) / len(bot), 3)
        assert o["p90_response_seconds"] == round(percentile(bot, 0.9), 3)

        times = first["agent/response-times"]["overall"]
        for kind, values in (("bot", bot), ("human", expect["human_times"])):
            assert times[kind]["count"] == len(values)
            for q in (50, 90, 99):
                assert times[kind][f"p{q}"] == round(percentile(values, q / 100), 3)
        assert times["resolution"]["count"] == len(range(0, n, 3))

        assert sum(p["messages_in"] for p in first["trends"]["points"]) == expect["in"]
        channels = {c["channel"]: c for c in first["channels"]["channels"]}
        assert channels["whatsapp"]["messages_in"] == expect["whatsapp_in"]
        assert sum(c["replies_sent"] for c in channels.values()) == expect["sent"]
        delivered = sum(c["delivery_rate"] * c["replies_sent"] for c in channels.values())
        assert round(delivered) == expect["delivered"]
        failures = sum(sum(c["failures_by_error_code"].values()) for c in channels.values())
        assert failures == expect["reply_failed"] + expect["status_failed"]
        sentiment = first["agent/sentiment"]["languages"]
        assert sum(lang["messages"] for lang in sentiment.values()) == expect["in"]
        assert sentiment["ar"]["labels"] == {"negative": len(range(2, n, 4))}
        insights = first["agent/insights"]
        assert {i["intent"] for i in insights["top_intents"]} >= {"order_inquiry", "question", "complaint"}
        assert insights["knowledge_gaps"], "fallback and handoff answers make knowledge gaps"

        # the same events again (new deliveries, same event ids) change nothing
        await publish_all(publisher, events_a)
        await publisher.publish(message_received(owner_b.tenant_id, "marker"))
        await eventually(
            lambda: processed(admin_engine, owner_b.tenant_id), lambda n: n == len(events_b) + 1, timeout=60
        )
        await eventually(lambda: drained(redis), bool, timeout=60)
        assert await snapshot() == first

        # an agent may not read analytics; periods are validated
        agent_headers = await headers_for(client, agent)
        assert (await client.get("/api/v1/analytics/overview", headers=agent_headers)).status_code == 403
        bad = await client.get("/api/v1/analytics/overview", params={"from": "2025-02-01", "to": "2025-01-01"},
                               headers=headers)  # fmt: skip
        assert bad.status_code == 422 and bad.json()["code"] == "invalid_period"
        long = await client.get("/api/v1/analytics/trends", params={"from": "2023-01-01", "to": "2025-01-01"},
                                headers=headers)  # fmt: skip
        assert long.status_code == 422 and long.json()["code"] == "period_too_long"

        # tenant B sees only its own 9 conversations
        b = await client.get("/api/v1/analytics/overview", params=params, headers=await headers_for(client, owner_b))
        assert b.json()["current"]["messages_in"] == 9 + 1
