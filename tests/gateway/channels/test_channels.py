"""Connecting channels: secrets in but never out, one number per platform, tenant walls, audit."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.fixtures.fake_graph import FakeGraphApi
from tests.fixtures.gateway import (
    add_user,
    audit_rows,
    create_tenant_with_owner,
    gateway_settings,
    headers_for,
    running_gateway,
)
from tests.fixtures.infrastructure import Infrastructure
from tests.gateway.conftest import Gateway

pytestmark = pytest.mark.integration

TOKEN = "EAAG-test-access-token-1234"


def whatsapp(number: str | None = None, **extra: object) -> dict[str, object]:
    return {
        "platform": "whatsapp",
        "phone_number_id": number or str(uuid.uuid4().int)[:15],
        "access_token": TOKEN,
    } | extra


async def test_connecting_whatsapp_stores_the_token_encrypted_and_never_returns_it(
    gateway: Gateway, admin_engine: AsyncEngine
) -> None:
    owner = await create_tenant_with_owner(gateway.app)
    headers = await headers_for(gateway.client, owner)
    response = await gateway.client.post(
        "/api/v1/channels", json=whatsapp(app_secret="own-app-secret-1", name="Main line"), headers=headers
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert TOKEN not in response.text and "own-app-secret-1" not in response.text
    assert body["access_token"] == "…1234" and body["app_secret_set"] is True
    assert body["webhook_url"].endswith("/api/v1/webhooks/whatsapp")
    assert body["verify_token"] and body["own_verify_token"] is True
    listed = (await gateway.client.get("/api/v1/channels", headers=headers)).json()
    assert [c["id"] for c in listed] == [body["id"]] and "verify_token" not in listed[0]
    async with admin_engine.connect() as conn:
        stored = (await conn.execute(text("SELECT * FROM gateway.channels WHERE id = :i"), {"i": body["id"]})).one()
    assert TOKEN not in str(tuple(stored)) and "own-app-secret-1" not in str(tuple(stored))
    row = (await audit_rows(admin_engine, owner.tenant_id, "channel.created"))[0]
    assert TOKEN not in str(row) and row["resource_id"] == body["id"]


async def test_a_number_connected_by_one_tenant_cannot_be_claimed_by_another(gateway: Gateway) -> None:
    a = await create_tenant_with_owner(gateway.app)
    b = await create_tenant_with_owner(gateway.app)
    number = str(uuid.uuid4().int)[:15]
    assert (
        await gateway.client.post(
            "/api/v1/channels", json=whatsapp(number), headers=await headers_for(gateway.client, a)
        )
    ).status_code == 201
    taken = await gateway.client.post(
        "/api/v1/channels", json=whatsapp(number), headers=await headers_for(gateway.client, b)
    )
    assert taken.status_code == 409 and taken.json()["code"] == "channel_taken"


async def test_another_tenants_channel_is_not_found(gateway: Gateway) -> None:
    a = await create_tenant_with_owner(gateway.app)
    b = await create_tenant_with_owner(gateway.app)
    created = (
        await gateway.client.post("/api/v1/channels", json=whatsapp(), headers=await headers_for(gateway.client, a))
    ).json()
    b_headers = await headers_for(gateway.client, b)
    for method, path in (("GET", ""), ("PATCH", ""), ("DELETE", ""), ("POST", "/test")):
        response = await gateway.client.request(
            method,
            f"/api/v1/channels/{created['id']}{path}",
            headers=b_headers,
            json={"name": "x"} if method == "PATCH" else None,
        )
        assert (response.status_code, response.json()["code"]) == (404, "channel_not_found")
    assert (await gateway.client.get("/api/v1/channels", headers=b_headers)).json() == []


async def test_agents_cannot_manage_channels(gateway: Gateway) -> None:
    owner = await create_tenant_with_owner(gateway.app)
    agent = await add_user(gateway.app, owner.tenant_id, "agent")
    response = await gateway.client.post(
        "/api/v1/channels", json=whatsapp(), headers=await headers_for(gateway.client, agent)
    )
    assert response.status_code == 403


@pytest.mark.parametrize(
    "body",
    [
        {"platform": "telegram", "phone_number_id": "1", "access_token": TOKEN},
        {"platform": "whatsapp", "access_token": TOKEN},
        {"platform": "whatsapp", "phone_number_id": "../../etc", "access_token": TOKEN},
        {"platform": "instagram", "instagram_account_id": "1784", "access_token": "short"},
        {"platform": "whatsapp", "phone_number_id": "1", "access_token": TOKEN, "tenant_id": str(uuid.uuid4())},
        # A token goes into an HTTP header: non-ASCII letters or control characters made the test button a 500.
        {"platform": "whatsapp", "phone_number_id": "1", "access_token": "EAAG-tokén-1234"},
        {"platform": "whatsapp", "phone_number_id": "1", "access_token": "EAAG-token\n1234"},
        {"platform": "whatsapp", "phone_number_id": "1", "access_token": "EAAG-token\x001234"},
    ],
)
async def test_invalid_channel_bodies_are_422(gateway: Gateway, body: dict[str, object]) -> None:
    owner = await create_tenant_with_owner(gateway.app)
    response = await gateway.client.post(
        "/api/v1/channels", json=body, headers=await headers_for(gateway.client, owner)
    )
    assert response.status_code == 422 and response.json()["code"] == "validation_error"


async def test_a_rotated_token_that_cannot_be_sent_in_a_header_is_422_and_changes_nothing(gateway: Gateway) -> None:
    owner = await create_tenant_with_owner(gateway.app)
    headers = await headers_for(gateway.client, owner)
    created = (await gateway.client.post("/api/v1/channels", json=whatsapp(), headers=headers)).json()
    for token in ("EAAG-tokén-5678", "EAAG token 5678", "EAAG-token-\x005678"):
        response = await gateway.client.patch(
            f"/api/v1/channels/{created['id']}", json={"access_token": token}, headers=headers
        )
        assert response.status_code == 422 and response.json()["code"] == "validation_error", token
    channel = (await gateway.client.get(f"/api/v1/channels/{created['id']}", headers=headers)).json()
    assert channel["access_token"] == "…1234" and channel["updated_at"] == created["updated_at"]


async def test_a_token_expiry_must_be_iso_text_not_a_number_read_as_unix_time(gateway: Gateway) -> None:
    owner = await create_tenant_with_owner(gateway.app)
    headers = await headers_for(gateway.client, owner)
    created = (await gateway.client.post("/api/v1/channels", json=whatsapp(), headers=headers)).json()
    url = f"/api/v1/channels/{created['id']}"
    # Found by the schema battery: 156 was accepted and stored as 1970-01-01T00:02:36Z.
    for value in (156, 1.5e9, True):
        response = await gateway.client.patch(url, json={"token_expires_at": value}, headers=headers)
        assert response.status_code == 422 and response.json()["code"] == "validation_error", value
    assert (await gateway.client.get(url, headers=headers)).json()["token_expires_at"] is None
    response = await gateway.client.patch(url, json={"token_expires_at": "2026-12-31T23:59:00Z"}, headers=headers)
    assert response.status_code == 200 and response.json()["token_expires_at"] == "2026-12-31T23:59:00Z"


async def test_pausing_and_rotating_the_token(gateway: Gateway, admin_engine: AsyncEngine) -> None:
    owner = await create_tenant_with_owner(gateway.app)
    headers = await headers_for(gateway.client, owner)
    created = (await gateway.client.post("/api/v1/channels", json=whatsapp(), headers=headers)).json()
    response = await gateway.client.patch(
        f"/api/v1/channels/{created['id']}",
        json={"status": "paused", "access_token": "EAAG-rotated-token-9876"},
        headers=headers,
    )
    assert response.status_code == 200
    assert (response.json()["status"], response.json()["access_token"]) == ("paused", "…9876")
    row = (await audit_rows(admin_engine, owner.tenant_id, "channel.updated"))[0]
    assert row["changes"] == {"access_token": "rotated", "status": "paused"} or row["changes"] == {
        "access_token": "[redacted]",
        "status": "paused",
    }
    assert "EAAG-rotated-token-9876" not in str(row)
    assert (await gateway.client.delete(f"/api/v1/channels/{created['id']}", headers=headers)).status_code == 204
    assert len(await audit_rows(admin_engine, owner.tenant_id, "channel.deleted")) == 1


async def test_the_test_button_reports_a_working_and_an_expired_token(
    infra: Infrastructure, fake_graph: FakeGraphApi, redis: object
) -> None:
    settings = gateway_settings(infra, whatsapp_api_base_url=fake_graph.url, instagram_api_base_url=fake_graph.url)
    async with running_gateway(settings) as (app, client):
        owner = await create_tenant_with_owner(app)
        headers = await headers_for(client, owner)
        good = (await client.post("/api/v1/channels", json=whatsapp(), headers=headers)).json()
        expired = (
            await client.post("/api/v1/channels", json=whatsapp(access_token="EAAG-token-expired"), headers=headers)
        ).json()
        ok = (await client.post(f"/api/v1/channels/{good['id']}/test", headers=headers)).json()
        bad = (await client.post(f"/api/v1/channels/{expired['id']}/test", headers=headers)).json()
    assert ok["ok"] is True and ok["account"]["id"] == good["external_account_id"]
    assert bad == {"ok": False, "account": None, "error_code": "190", "message": bad["message"]}
    assert "expired" in bad["message"]
    assert fake_graph.requests[0].headers["authorization"] == f"Bearer {TOKEN}"
