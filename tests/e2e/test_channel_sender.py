"""The channel sender as a process: replies delivered at the fake Graph API once, whatever happens."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.fixtures.factories import message_received, reply_ready
from tests.fixtures.fake_graph import FakeGraphApi
from tests.fixtures.gateway import create_tenant_with_owner, gateway_settings, headers_for, running_gateway
from tests.fixtures.infrastructure import Infrastructure
from tests.fixtures.waiting import eventually
from wafaa.common.events import DeliveryStatusChanged, DeliveryStatusChangedPayload
from wafaa.common.messaging import EventPublisher

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

CUSTOMER = "971500000001"
LONG_TEXT = "\n\n".join(f"Dish {i}: grilled halloumi with za'atar and olive oil. " * 12 for i in range(12))  # 2+ parts


async def connect(
    infra: Infrastructure, fake: FakeGraphApi, token: str = "EAAG-sender-token-0001"
) -> tuple[uuid.UUID, uuid.UUID]:
    """A tenant with a WhatsApp channel, created through the gateway's API."""
    settings = gateway_settings(infra, whatsapp_api_base_url=fake.url)
    async with running_gateway(settings) as (app, client):
        owner = await create_tenant_with_owner(app)
        body = {"platform": "whatsapp", "phone_number_id": str(uuid.uuid4().int)[:15], "access_token": token}
        response = await client.post("/api/v1/channels", json=body, headers=await headers_for(client, owner))
        assert response.status_code == 201, response.text
        return owner.tenant_id, uuid.UUID(response.json()["id"])


async def delivery(engine: AsyncEngine, tenant: uuid.UUID) -> dict | None:
    async with engine.connect() as conn:
        row = (
            await conn.execute(text("SELECT * FROM channels.deliveries WHERE tenant_id = :t"), {"t": tenant})
        ).first()
        return dict(row._mapping) if row else None


async def customer_wrote(publisher: EventPublisher, engine: AsyncEngine, tenant: uuid.UUID, channel: uuid.UUID) -> None:
    await publisher.publish(message_received(tenant, channel_id=channel, customer_id=CUSTOMER))

    async def window() -> int:
        async with engine.connect() as conn:
            sql = "SELECT count(*) FROM channels.customer_windows WHERE tenant_id = :t"
            return int((await conn.execute(text(sql), {"t": tenant})).scalar_one())

    await eventually(window, lambda n: n == 1)


@pytest.fixture
def sender(redis: Redis, start_service, fake_graph: FakeGraphApi):
    """The channels service, started after the per-test Redis flush."""
    return start_service(
        "channels", whatsapp_api_base_url=fake_graph.url, instagram_api_base_url=fake_graph.url,
        graph_backoff_initial_seconds=0.05, graph_backoff_max_seconds=0.2,
    )[0]  # fmt: skip


async def test_a_reply_is_delivered_once_and_a_redelivery_sends_nothing(
    sender, fake_graph: FakeGraphApi, infra: Infrastructure, publisher: EventPublisher, admin_engine: AsyncEngine
) -> None:
    tenant, channel = await connect(infra, fake_graph)
    await customer_wrote(publisher, admin_engine, tenant, channel)
    reply = reply_ready(tenant, channel_id=channel, recipient_id=CUSTOMER, in_reply_to_platform_message_id="wamid.in1")
    await publisher.publish(reply)
    row = await eventually(lambda: delivery(admin_engine, tenant), lambda d: d is not None and d["status"] == "sent")
    (send,) = fake_graph.sends()
    assert send.body["to"] == CUSTOMER and send.body["text"]["body"] == reply.payload.text
    assert send.body["context"] == {"message_id": "wamid.in1"}
    assert send.headers["authorization"] == "Bearer EAAG-sender-token-0001"
    assert row["platform_message_id"] == "wamid.fake0"

    await publisher.publish(reply)  # the same ReplyReady again (a redelivery)
    await eventually(lambda: sender_processed(sender), lambda n: n >= 3)
    assert len(fake_graph.sends()) == 1


async def sender_processed(sender) -> float:
    return sender.metric("wafaa_events_handled_total", outcome="processed")


async def test_two_500s_then_200_delivers_one_reply(
    sender, fake_graph: FakeGraphApi, infra: Infrastructure, publisher: EventPublisher, admin_engine: AsyncEngine
) -> None:
    tenant, channel = await connect(infra, fake_graph)
    await customer_wrote(publisher, admin_engine, tenant, channel)
    fake_graph.script(500, 500)
    await publisher.publish(reply_ready(tenant, channel_id=channel, recipient_id=CUSTOMER))
    row = await eventually(lambda: delivery(admin_engine, tenant), lambda d: d is not None and d["status"] == "sent")
    assert len(fake_graph.sends()) == 3 and row["attempts"] == 1


async def test_outside_the_24_hour_window_nothing_is_sent_and_the_reply_is_flagged(
    sender,
    fake_graph: FakeGraphApi,
    infra: Infrastructure,
    publisher: EventPublisher,
    admin_engine: AsyncEngine,
    redis: Redis,
) -> None:
    tenant, channel = await connect(infra, fake_graph)
    await publisher.publish(
        message_received(
            tenant, channel_id=channel, customer_id=CUSTOMER, received_at=datetime.now(UTC) - timedelta(hours=30)
        )
    )
    await publisher.publish(reply_ready(tenant, channel_id=channel, recipient_id=CUSTOMER))
    row = await eventually(lambda: delivery(admin_engine, tenant), lambda d: d is not None and d["status"] != "sending")
    assert (row["status"], row["error_code"]) == ("outside_window", "131047")
    assert fake_graph.sends() == []
    failed = await eventually(lambda: redis.xrange("wafaa.reply.failed"), lambda e: len(e) == 1)
    assert b"131047" in failed[0][1][b"__data__"]


async def test_a_reply_read_before_its_customers_message_is_sent_within_the_window_the_reply_states(
    sender, fake_graph: FakeGraphApi, infra: Infrastructure, publisher: EventPublisher, admin_engine: AsyncEngine
) -> None:
    """After a backlog the sender may read the reply before the message that opened the 24-hour window."""
    tenant, channel = await connect(infra, fake_graph)
    now = datetime.now(UTC)
    fresh = reply_ready(tenant, channel_id=channel, recipient_id=CUSTOMER, customer_wrote_at=now)
    await publisher.publish(fresh)  # no MessageReceived seen yet by the sender
    row = await eventually(lambda: delivery(admin_engine, tenant), lambda d: d is not None and d["status"] != "sending")
    assert row["status"] == "sent" and len(fake_graph.sends()) == 1

    other, other_channel = await connect(infra, fake_graph)
    stale = reply_ready(
        other, channel_id=other_channel, recipient_id=CUSTOMER, customer_wrote_at=now - timedelta(hours=30)
    )
    await publisher.publish(stale)
    row = await eventually(lambda: delivery(admin_engine, other), lambda d: d is not None and d["status"] != "sending")
    assert (row["status"], row["error_code"]) == ("outside_window", "131047")
    assert len(fake_graph.sends()) == 1


async def test_meta_answering_131047_is_not_retried_and_flags_the_reply(
    sender, fake_graph: FakeGraphApi, infra: Infrastructure, publisher: EventPublisher, admin_engine: AsyncEngine
) -> None:
    tenant, channel = await connect(infra, fake_graph)
    await customer_wrote(publisher, admin_engine, tenant, channel)
    fake_graph.script(("error", 131047))
    await publisher.publish(reply_ready(tenant, channel_id=channel, recipient_id=CUSTOMER))
    row = await eventually(lambda: delivery(admin_engine, tenant), lambda d: d is not None and d["status"] != "sending")
    assert (row["status"], row["error_code"]) == ("outside_window", "131047")
    assert len(fake_graph.sends()) == 1


async def test_an_expired_token_pauses_the_channel_and_tells_the_admins(
    sender,
    start_service,
    fake_graph: FakeGraphApi,
    infra: Infrastructure,
    publisher: EventPublisher,
    admin_engine: AsyncEngine,
) -> None:
    start_service("gateway")  # consumes ChannelPaused
    tenant, channel = await connect(infra, fake_graph)
    await customer_wrote(publisher, admin_engine, tenant, channel)
    fake_graph.script(("error", 190))
    await publisher.publish(reply_ready(tenant, channel_id=channel, recipient_id=CUSTOMER))

    async def channel_state() -> tuple[str, str | None]:
        async with admin_engine.connect() as conn:
            row = (
                await conn.execute(
                    text("SELECT status, paused_reason FROM gateway.channels WHERE id = :i"), {"i": channel}
                )
            ).one()
            return row.status, row.paused_reason

    assert await eventually(channel_state, lambda s: s[0] == "paused", timeout=30) == ("paused", "access token expired")
    sql = "SELECT actor_type, action FROM gateway.audit_logs WHERE tenant_id = :t AND action = 'channel.paused'"
    async with admin_engine.connect() as conn:
        audit = (await conn.execute(text(sql), {"t": tenant})).all()
    assert [tuple(a) for a in audit] == [("system", "channel.paused")]
    assert len(fake_graph.sends()) == 1


async def test_statuses_out_of_order_leave_the_delivery_read(
    sender, fake_graph: FakeGraphApi, infra: Infrastructure, publisher: EventPublisher, admin_engine: AsyncEngine
) -> None:
    tenant, channel = await connect(infra, fake_graph)
    await customer_wrote(publisher, admin_engine, tenant, channel)
    await publisher.publish(reply_ready(tenant, channel_id=channel, recipient_id=CUSTOMER))
    row = await eventually(lambda: delivery(admin_engine, tenant), lambda d: d is not None and d["status"] == "sent")
    for status in ("read", "delivered", "sent"):
        await publisher.publish(
            DeliveryStatusChanged(
                tenant_id=tenant,
                payload=DeliveryStatusChangedPayload(
                    channel="whatsapp",
                    platform_message_id=row["platform_message_id"],
                    status=status,
                    status_at=datetime.now(UTC),
                ),
            )
        )
    await eventually(lambda: sender_processed(sender), lambda n: n >= 5)
    assert (await delivery(admin_engine, tenant))["status"] == "read"


async def test_a_long_reply_is_split_under_the_limit(
    sender, fake_graph: FakeGraphApi, infra: Infrastructure, publisher: EventPublisher, admin_engine: AsyncEngine
) -> None:
    tenant, channel = await connect(infra, fake_graph)
    await customer_wrote(publisher, admin_engine, tenant, channel)
    await publisher.publish(reply_ready(tenant, channel_id=channel, recipient_id=CUSTOMER, text=LONG_TEXT))
    row = await eventually(lambda: delivery(admin_engine, tenant), lambda d: d is not None and d["status"] == "sent")
    bodies = [s.body["text"]["body"] for s in fake_graph.sends()]
    assert len(bodies) == row["parts"] >= 2 and all(len(b) <= 4096 for b in bodies)


async def test_two_replicas_given_the_same_reply_at_once_send_it_once(
    start_service,
    fake_graph: FakeGraphApi,
    infra: Infrastructure,
    publisher: EventPublisher,
    admin_engine: AsyncEngine,
    redis: Redis,
) -> None:
    """Two copies of one ReplyReady (rag reran a turn whose commit failed) reach two replicas together."""
    start_service(
        "channels", replicas=2, whatsapp_api_base_url=fake_graph.url, instagram_api_base_url=fake_graph.url,
        reclaim_idle_ms=1_000,
    )  # fmt: skip
    tenant, channel = await connect(infra, fake_graph)
    await customer_wrote(publisher, admin_engine, tenant, channel)
    fake_graph.delay = 1.5  # the first copy is still being sent when the second one arrives
    reply = reply_ready(tenant, channel_id=channel, recipient_id=CUSTOMER)

    async def pending() -> int:
        return int((await redis.xpending("wafaa.reply.ready", "channels"))["pending"])

    await publisher.publish(reply)
    await eventually(pending, lambda n: n == 1)  # one replica is sending it (one entry at a time each)
    await publisher.publish(reply)  # so the other replica takes the second copy
    await eventually(lambda: delivery(admin_engine, tenant), lambda d: d is not None and d["status"] == "sent")
    await eventually(pending, lambda n: n == 0, 20)  # the second copy, retried, finds the reply sent
    assert len(fake_graph.sends()) == 1
    sent = await redis.xrange("wafaa.reply.sent")
    assert len(sent) == 2 and all(str(reply.payload.message_id).encode() in e[1][b"__data__"] for e in sent)


async def test_a_reply_cut_off_after_its_first_part_resumes_with_the_rest_only(
    sender, fake_graph: FakeGraphApi, infra: Infrastructure, publisher: EventPublisher, admin_engine: AsyncEngine
) -> None:
    """A sender that died after part 0 was accepted and recorded: the redelivered reply sends only the rest."""
    tenant, channel = await connect(infra, fake_graph)
    await customer_wrote(publisher, admin_engine, tenant, channel)
    reply = reply_ready(tenant, channel_id=channel, recipient_id=CUSTOMER, text=LONG_TEXT)
    p = reply.payload
    delivery_id = uuid.uuid4()
    async with admin_engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO channels.deliveries (id, tenant_id, message_id, conversation_id, channel, channel_id,"
                " recipient_id, text, status, attempts)"
                " VALUES (:id, :t, :m, :c, 'whatsapp', :ch, :r, :x, 'sending', 1)"
            ),
            {"id": delivery_id, "t": tenant, "m": p.message_id, "c": p.conversation_id, "ch": channel, "r": CUSTOMER,
             "x": LONG_TEXT},
        )  # fmt: skip
        await conn.execute(
            text(
                "INSERT INTO channels.delivery_parts (id, tenant_id, delivery_id, ordinal, platform_message_id)"
                " VALUES (:id, :t, :d, 0, 'wamid.before-the-crash')"
            ),
            {"id": uuid.uuid4(), "t": tenant, "d": delivery_id},
        )
    await publisher.publish(reply)
    row = await eventually(lambda: delivery(admin_engine, tenant), lambda d: d is not None and d["status"] == "sent")
    bodies = [s.body["text"]["body"] for s in fake_graph.sends()]
    assert row["parts"] >= 2 and len(bodies) == row["parts"] - 1, "part 0 is not sent again"
    assert not LONG_TEXT.startswith(bodies[0])
    assert row["platform_message_id"] == "wamid.before-the-crash" and row["attempts"] == 2
    async with admin_engine.connect() as conn:
        parts = await conn.execute(
            text("SELECT ordinal FROM channels.delivery_parts WHERE delivery_id = :d ORDER BY ordinal"),
            {"d": delivery_id},
        )
        assert [r.ordinal for r in parts] == list(range(row["parts"]))
