"""Webhook intake: handshake, signatures over raw bytes, dedup, tenant routing, 503 when it cannot store."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from redis.asyncio import Redis

from tests.fixtures.gateway import create_tenant_with_owner, gateway_settings, headers_for, running_gateway
from tests.fixtures.infrastructure import Infrastructure
from tests.fixtures.waiting import eventually
from tests.gateway.conftest import Gateway
from wafaa.gateway.channels.repository import route_webhook
from wafaa.gateway.config import DEV_META_APP_SECRET, DEV_META_VERIFY_TOKEN
from wafaa.gateway.webhooks import service
from wafaa.gateway.webhooks.signature import sign

pytestmark = pytest.mark.integration

PAYLOADS = Path(__file__).resolve().parents[3].parent / "shared" / "reference" / "meta-payloads"
MESSAGES = "wafaa.message.received"
STATUSES = "wafaa.delivery.status_changed"


def whatsapp_text(phone_number_id: str, text: str = "hi, what time do you close?", wamid: str | None = None,
                  sender: str = "971500000001") -> bytes:  # fmt: skip
    body = json.loads((PAYLOADS / "wa_text.json").read_text())
    value = body["entry"][0]["changes"][0]["value"]
    value["metadata"]["phone_number_id"] = phone_number_id
    message = value["messages"][0]
    message.update({"id": wamid or f"wamid.{uuid.uuid4().hex}", "from": sender, "text": {"body": text}})
    value["contacts"][0]["wa_id"] = sender
    return json.dumps(body).encode()


async def connect_whatsapp(gateway: Gateway, tenant_owner: object, number: str | None = None) -> dict[str, str]:
    number = number or str(uuid.uuid4().int)[:15]
    headers = await headers_for(gateway.client, tenant_owner)  # type: ignore[arg-type]
    body = {"platform": "whatsapp", "phone_number_id": number, "access_token": "EAAG-test-token-0001"}
    response = await gateway.client.post("/api/v1/channels", json=body, headers=headers)
    assert response.status_code == 201, response.text
    channel: dict[str, str] = response.json()
    return channel


async def post(
    client: httpx.AsyncClient, raw: bytes, secret: str = DEV_META_APP_SECRET, platform: str = "whatsapp"
) -> httpx.Response:
    return await client.post(
        f"/api/v1/webhooks/{platform}", content=raw,
        headers={"X-Hub-Signature-256": sign(raw, secret), "Content-Type": "application/json"},
    )  # fmt: skip


async def events(redis: Redis, stream: str = MESSAGES) -> list[dict]:
    entries = await redis.xrange(stream)
    out = []
    for _id, fields in entries:
        data = fields[b"__data__"]
        out.append(json.loads(data[data.index(b"{") :]))
    return out


async def test_handshake_echoes_the_challenge_only_for_the_right_token(gateway: Gateway) -> None:
    ok = await gateway.client.get(
        "/api/v1/webhooks/whatsapp",
        params={"hub.mode": "subscribe", "hub.verify_token": DEV_META_VERIFY_TOKEN, "hub.challenge": "1158201444"},
    )
    assert (ok.status_code, ok.text, ok.headers["content-type"].split(";")[0]) == (200, "1158201444", "text/plain")
    bad = await gateway.client.get(
        "/api/v1/webhooks/instagram", params={"hub.mode": "subscribe", "hub.verify_token": "nope", "hub.challenge": "1"}
    )
    assert bad.status_code == 403


async def test_a_channels_own_verify_token_passes_the_handshake(gateway: Gateway) -> None:
    owner = await create_tenant_with_owner(gateway.app)
    headers = await headers_for(gateway.client, owner)
    account = str(uuid.uuid4().int)[:17]
    body = {"platform": "instagram", "instagram_account_id": account, "access_token": "IGQ-token-0001"}
    body["app_secret"] = "tenant-own-app-secret"
    created = (await gateway.client.post("/api/v1/channels", json=body, headers=headers)).json()
    response = await gateway.client.get(
        "/api/v1/webhooks/instagram",
        params={"hub.mode": "subscribe", "hub.verify_token": created["verify_token"], "hub.challenge": "abc"},
    )
    assert (response.status_code, response.text) == (200, "abc")


async def test_a_signed_text_becomes_one_message_received_for_the_channels_tenant(
    gateway: Gateway, redis: Redis
) -> None:
    owner = await create_tenant_with_owner(gateway.app)
    channel = await connect_whatsapp(gateway, owner)
    response = await post(gateway.client, whatsapp_text(channel["external_account_id"], "متى تغلقون يوم الجمعة؟"))
    assert response.status_code == 200 and response.json()["accepted"] == 1
    (event,) = await events(redis)
    assert event["tenant_id"] == str(owner.tenant_id)
    p = event["payload"]
    assert (p["channel"], p["channel_id"], p["text"], p["customer_id"], p["customer_name"]) == (
        "whatsapp", channel["id"], "متى تغلقون يوم الجمعة؟", "971500000001", "Sheena Nelson",
    )  # fmt: skip


async def test_wrong_signature_is_rejected_and_nothing_is_stored(gateway: Gateway, redis: Redis) -> None:
    owner = await create_tenant_with_owner(gateway.app)
    channel = await connect_whatsapp(gateway, owner)
    raw = whatsapp_text(channel["external_account_id"])
    assert (await post(gateway.client, raw, secret="not-the-secret")).status_code == 401
    unsigned = await gateway.client.post("/api/v1/webhooks/whatsapp", content=raw)
    assert unsigned.status_code == 401 and unsigned.json()["code"] == "invalid_signature"
    assert await events(redis) == []


async def test_signature_must_cover_the_raw_bytes_escapes_included(gateway: Gateway, redis: Redis) -> None:
    owner = await create_tenant_with_owner(gateway.app)
    channel = await connect_whatsapp(gateway, owner)
    raw = whatsapp_text(channel["external_account_id"], "caf\u00e4 / menu").replace(b"/ menu", b"\\/ menu")
    assert b"\\u00e4" in raw and b"\\/" in raw
    reserialised = json.dumps(json.loads(raw), ensure_ascii=False).encode()
    response = await gateway.client.post(
        "/api/v1/webhooks/whatsapp",
        content=raw,
        headers={"X-Hub-Signature-256": sign(reserialised, DEV_META_APP_SECRET)},
    )
    assert response.status_code == 401
    assert (await post(gateway.client, raw)).status_code == 200
    (event,) = await events(redis)
    assert event["payload"]["text"] == "caf\u00e4 / menu"


async def test_the_same_webhook_five_times_concurrently_is_one_event(gateway: Gateway, redis: Redis) -> None:
    owner = await create_tenant_with_owner(gateway.app)
    channel = await connect_whatsapp(gateway, owner)
    raw = whatsapp_text(channel["external_account_id"])
    responses = await asyncio.gather(*(post(gateway.client, raw) for _ in range(5)))
    assert [r.status_code for r in responses] == [200] * 5
    assert sum(r.json()["accepted"] for r in responses) == 1
    assert len(await events(redis)) == 1


async def test_unknown_channels_and_kinds_answer_200_and_store_nothing(gateway: Gateway, redis: Redis) -> None:
    assert (await post(gateway.client, whatsapp_text("999000111222333"))).status_code == 200
    other = json.dumps(
        {"object": "whatsapp_business_account", "entry": [{"changes": [{"field": "account_update", "value": {}}]}]}
    )
    assert (await post(gateway.client, other.encode())).status_code == 200
    assert await events(redis) == []


async def test_a_webhook_for_tenant_a_never_creates_anything_in_tenant_b(gateway: Gateway, redis: Redis) -> None:
    a = await create_tenant_with_owner(gateway.app)
    b = await create_tenant_with_owner(gateway.app)
    channel_a = await connect_whatsapp(gateway, a)
    await connect_whatsapp(gateway, b)
    await post(gateway.client, whatsapp_text(channel_a["external_account_id"], sender="971500000009"))
    (event,) = await events(redis)
    assert event["tenant_id"] == str(a.tenant_id) and event["payload"]["channel_id"] == channel_a["id"]


async def test_status_webhooks_become_delivery_status_events_once_per_status(gateway: Gateway, redis: Redis) -> None:
    owner = await create_tenant_with_owner(gateway.app)
    channel = await connect_whatsapp(gateway, owner)
    body = json.loads((PAYLOADS / "wa_status_sent.json").read_text())
    body["entry"][0]["changes"][0]["value"]["metadata"]["phone_number_id"] = channel["external_account_id"]
    raw = json.dumps(body).encode()
    await post(gateway.client, raw)
    await post(gateway.client, raw)
    (event,) = await events(redis, STATUSES)
    assert (event["payload"]["status"], event["tenant_id"]) == ("sent", str(owner.tenant_id))


async def test_bodies_over_the_limit_are_refused_before_hashing(infra: Infrastructure, redis: Redis) -> None:
    async with running_gateway(gateway_settings(infra, webhook_max_body_bytes=2048)) as (_app, client):
        raw = b'{"object": "whatsapp_business_account", "pad": "' + b"x" * 4096 + b'"}'
        response = await post(client, raw)
    assert (response.status_code, response.json()["code"]) == (413, "too_large")


async def test_a_streamed_body_without_a_length_is_cut_off_at_the_limit(infra: Infrastructure) -> None:
    raw = b'{"object": "whatsapp_business_account", "pad": "' + b"x" * 8192 + b'"}'

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: the limit applies while it streams in
        for start in range(0, len(raw), 1024):
            yield raw[start : start + 1024]

    async with running_gateway(gateway_settings(infra, webhook_max_body_bytes=2048)) as (_app, client):
        signed = {"X-Hub-Signature-256": sign(raw, DEV_META_APP_SECRET)}
        response = await client.post("/api/v1/webhooks/whatsapp", content=chunks(), headers=signed)
    assert (response.status_code, response.json()["code"]) == (413, "too_large")


async def test_a_delivery_answer_carries_the_request_id_and_the_schema_documents_both_deliveries(
    gateway: Gateway,
) -> None:
    owner = await create_tenant_with_owner(gateway.app)
    channel = await connect_whatsapp(gateway, owner)
    raw = whatsapp_text(channel["external_account_id"])
    response = await gateway.client.post(
        "/api/v1/webhooks/whatsapp", content=raw,
        headers={"X-Hub-Signature-256": sign(raw, DEV_META_APP_SECRET), "X-Request-ID": "meta-retry-7"},
    )  # fmt: skip
    assert response.status_code == 200, response.text
    assert response.headers["x-request-id"] == "meta-retry-7"
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"status": "ok", "accepted": 1, "duplicates": 0}
    paths = gateway.app.openapi()["paths"]
    for platform in ("whatsapp", "instagram"):
        operation = paths[f"/api/v1/webhooks/{platform}"]["post"]
        assert {"200", "401", "413", "503"} <= operation["responses"].keys()


async def test_an_unexpected_error_while_taking_a_delivery_is_a_500_with_its_request_id(
    gateway: Gateway,
) -> None:
    class BrokenIntake:  # a bug past every expected failure: the ingress answers it as FastAPI would
        async def receive(self, *_args: object) -> None:
            raise KeyError("a bug")

    owner = await create_tenant_with_owner(gateway.app)
    channel = await connect_whatsapp(gateway, owner)
    raw = whatsapp_text(channel["external_account_id"])
    working, gateway.app.state.webhooks = gateway.app.state.webhooks, BrokenIntake()
    try:
        headers = {"X-Hub-Signature-256": sign(raw, DEV_META_APP_SECRET), "X-Request-ID": "meta-try-1"}
        response = await gateway.client.post("/api/v1/webhooks/whatsapp", content=raw, headers=headers)
    finally:
        gateway.app.state.webhooks = working
    assert (response.status_code, response.json()["code"]) == (500, "internal_error")
    assert response.headers["x-request-id"] == "meta-try-1"
    assert "a bug" not in response.text
    assert (await post(gateway.client, raw)).json() == {"status": "ok", "accepted": 1, "duplicates": 0}


async def test_a_gateway_that_cannot_store_the_event_answers_503_never_200(
    gateway: Gateway, infra: Infrastructure
) -> None:
    if infra.redis is None:
        pytest.skip("needs the embedded Redis to stop and start it")
    owner = await create_tenant_with_owner(gateway.app)
    channel = await connect_whatsapp(gateway, owner)
    infra.redis.stop()  # Redis goes away while the gateway runs
    try:
        response = await post(gateway.client, whatsapp_text(channel["external_account_id"]))
    finally:
        infra.redis.start()
    assert (response.status_code, response.json()["code"]) == (503, "unavailable")
    # It recovers by itself once Redis is back: Meta's retry of a 503 (sent again here every 0.2 s,
    # as a connection broken by the restart may fail one more request) is accepted within seconds.
    payload = whatsapp_text(channel["external_account_id"])
    again = await eventually(lambda: post(gateway.client, payload), lambda r: r.status_code != 503, 10, 0.2)
    assert again.status_code == 200, again.text


async def test_a_burst_beyond_the_redis_pool_waits_for_a_connection_and_is_stored_whole(
    infra: Infrastructure, redis: Redis
) -> None:
    # Ten times more webhooks at once than Redis connections: each waits for one (redis-py's default
    # pool raised "Too many connections" at once instead, and Meta got 503s while Redis was idle).
    async with running_gateway(gateway_settings(infra, redis_max_connections=4)) as (app, client):
        owner = await create_tenant_with_owner(app)
        channel = await connect_whatsapp(Gateway(app, client), owner)
        bodies = [whatsapp_text(channel["external_account_id"]) for _ in range(40)]
        responses = await asyncio.gather(*(post(client, raw) for raw in bodies))
    assert [r.status_code for r in responses] == [200] * 40, {r.status_code: r.text for r in responses}
    stored = {e["payload"]["platform_message_id"] for e in await events(redis)}
    assert stored == {json.loads(raw)["entry"][0]["changes"][0]["value"]["messages"][0]["id"] for raw in bodies}


async def test_channel_routes_are_reused_briefly_new_channels_at_once_changes_within_the_cache_time(
    infra: Infrastructure, redis: Redis
) -> None:
    async with running_gateway(gateway_settings(infra, webhook_route_cache_seconds=0.5)) as (app, client):
        gateway = Gateway(app, client)
        owner = await create_tenant_with_owner(app)
        number = str(uuid.uuid4().int)[:15]
        # Not connected yet: dropped, and not remembered, so the number works as soon as it is connected.
        assert (await post(client, whatsapp_text(number))).json()["accepted"] == 0
        channel = await connect_whatsapp(gateway, owner, number)
        assert (await post(client, whatsapp_text(number))).json()["accepted"] == 1
        headers = await headers_for(client, owner)
        paused = await client.patch(f"/api/v1/channels/{channel['id']}", json={"status": "paused"}, headers=headers)
        assert paused.status_code == 200, paused.text
        await asyncio.sleep(0.6)  # the route cache time has passed: the new state applies
        assert (await post(client, whatsapp_text(number))).json()["accepted"] == 1
        assert [e["payload"]["channel_paused"] for e in await events(redis)] == [False, True]
        deleted = await client.delete(f"/api/v1/channels/{channel['id']}", headers=headers)
        assert deleted.status_code == 204, deleted.text
        await asyncio.sleep(0.6)
        response = await post(client, whatsapp_text(number))
    assert (response.status_code, response.json()["accepted"]) == (200, 0)
    assert len(await events(redis)) == 2


async def test_webhooks_arriving_while_a_route_is_looked_up_share_that_one_lookup(
    gateway: Gateway, redis: Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    owner = await create_tenant_with_owner(gateway.app)
    channel = await connect_whatsapp(gateway, owner)
    lookups: list[str] = []

    async def slow_lookup(session: object, platform: str, account_id: str) -> object:
        lookups.append(account_id)
        await asyncio.sleep(0.3)  # Postgres is slow: every webhook below arrives meanwhile
        return await route_webhook(session, platform, account_id)

    monkeypatch.setattr(service, "route_webhook", slow_lookup)
    bodies = [whatsapp_text(channel["external_account_id"]) for _ in range(20)]
    answers = await asyncio.gather(*(post(gateway.client, raw) for raw in bodies))
    assert [a.json()["accepted"] for a in answers] == [1] * 20
    assert lookups == [channel["external_account_id"]]
    assert len(await events(redis)) == 20
    assert (await post(gateway.client, whatsapp_text(channel["external_account_id"]))).json()["accepted"] == 1
    assert len(lookups) == 1, "the route found is kept for the cache time"


async def test_nul_characters_a_customer_sends_are_dropped_not_stored_as_a_poison_event(
    gateway: Gateway, redis: Redis
) -> None:
    owner = await create_tenant_with_owner(gateway.app)
    channel = await connect_whatsapp(gateway, owner)
    raw = whatsapp_text(channel["external_account_id"], text="table for two\u0000 tonight?")
    assert b"\\u0000" in raw
    assert (await post(gateway.client, raw)).json()["accepted"] == 1
    (event,) = await events(redis)
    assert event["payload"]["text"] == "table for two tonight?"
