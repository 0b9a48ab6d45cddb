"""Every state-changing route writes exactly one audit row with the right actor and action."""

from __future__ import annotations

import csv
import io
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.fixtures.gateway import (
    PASSWORD,
    add_user,
    audit_rows,
    bearer,
    create_tenant_with_owner,
    headers_for,
    login,
    unique_email,
)
from tests.fixtures.infrastructure import Infrastructure
from tests.fixtures.knowledge import knowledge_gateway, upload
from tests.gateway.conftest import Gateway

pytestmark = pytest.mark.integration

# Every non-GET route of the OpenAPI document, and the test below proving its one audit row.
AUDIT_TESTS = {
    ("POST", "/api/v1/auth/login"): "test_login_writes_one_audit_row",
    ("POST", "/api/v1/auth/refresh"): "test_refresh_writes_one_audit_row",
    ("POST", "/api/v1/auth/logout"): "test_logout_writes_one_audit_row",
    ("POST", "/api/v1/tenants/me/users"): "test_creating_a_user_writes_one_audit_row",
    ("PATCH", "/api/v1/tenants/me/users/{user_id}"): "test_updating_a_user_writes_one_audit_row",
    ("DELETE", "/api/v1/tenants/me/users/{user_id}"): "test_deleting_a_user_writes_one_audit_row",
    ("PATCH", "/api/v1/tenants/me/settings"): "test_updating_settings_writes_one_audit_row",
    ("POST", "/api/v1/platform/tenants"): "test_platform_tenant_creation_writes_one_audit_row",
    ("POST", "/api/v1/chat"): "test_chat_and_conversation_changes_write_one_audit_row_each",
    ("POST", "/api/v1/chat/stream"): "test_chat_and_conversation_changes_write_one_audit_row_each",
    ("PATCH", "/api/v1/conversations/{conversation_id}"): "test_chat_and_conversation_changes_write_one_audit_row_each",
    ("POST", "/api/v1/conversations/{conversation_id}/messages"): (
        "test_chat_and_conversation_changes_write_one_audit_row_each"
    ),
    ("POST", "/api/v1/channels"): "test_connecting_a_channel_writes_one_audit_row",
    ("PATCH", "/api/v1/channels/{channel_id}"): "test_updating_a_channel_writes_one_audit_row",
    ("DELETE", "/api/v1/channels/{channel_id}"): "test_deleting_a_channel_writes_one_audit_row",
    ("POST", "/api/v1/knowledge"): "test_uploading_documents_writes_one_audit_row_per_document",
    ("POST", "/api/v1/knowledge/{document_id}/reprocess"): "test_reprocessing_a_document_writes_one_audit_row",
    ("DELETE", "/api/v1/knowledge/{document_id}"): "test_deleting_a_document_writes_one_audit_row",
}

# Non-GET routes that change no configuration, and why they write no audit row.
NOT_AUDITED = {
    ("POST", "/api/v1/webhooks/whatsapp"): "customer traffic from Meta, stored as messages",
    ("POST", "/api/v1/webhooks/instagram"): "customer traffic from Meta, stored as messages",
    ("POST", "/api/v1/channels/{channel_id}/test"): "a read-only check of the token against the Graph API",
    ("POST", "/api/v1/knowledge/search"): "a read-only query (POST for the query body)",
}


async def test_every_state_changing_route_has_an_audit_test(gateway: Gateway) -> None:
    spec = gateway.app.openapi()
    routes = {
        (method.upper(), path)
        for path, operations in spec["paths"].items()
        for method in operations
        if method.upper() in {"POST", "PUT", "PATCH", "DELETE"}
    }
    assert routes, "the OpenAPI document lists no state-changing route"
    assert sorted(routes - AUDIT_TESTS.keys() - NOT_AUDITED.keys()) == [], "routes without an audit test"
    module = sys.modules[__name__]
    missing = [name for name in AUDIT_TESTS.values() if not callable(getattr(module, name, None))]
    assert missing == []


def only(rows: list[dict[str, Any]]) -> dict[str, Any]:
    assert len(rows) == 1, rows
    return rows[0]


async def test_login_writes_one_audit_row(gateway: Gateway, admin_engine: AsyncEngine) -> None:
    owner = await create_tenant_with_owner(gateway.app)
    before = len(await audit_rows(admin_engine, owner.tenant_id))
    response = await gateway.client.post(
        "/api/v1/auth/login",
        json={"email": owner.email, "password": PASSWORD},
        headers={"User-Agent": "pytest-agent", "X-Request-ID": "req-login-1"},
    )
    assert response.status_code == 200
    rows = await audit_rows(admin_engine, owner.tenant_id)
    assert len(rows) == before + 1
    row = rows[-1]
    assert (row["action"], row["actor_type"], row["actor_id"]) == ("auth.logged_in", "user", owner.id)
    assert (row["request_id"], row["ip"], row["user_agent"]) == ("req-login-1", "203.0.113.7", "pytest-agent")
    assert PASSWORD not in str(row)


async def test_refresh_writes_one_audit_row(gateway: Gateway, admin_engine: AsyncEngine) -> None:
    owner = await create_tenant_with_owner(gateway.app)
    tokens = await login(gateway.client, owner)
    response = await gateway.client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert response.status_code == 200
    row = only(await audit_rows(admin_engine, owner.tenant_id, "auth.token_refreshed"))
    assert (row["actor_type"], row["actor_id"]) == ("user", owner.id)
    assert tokens["refresh_token"] not in str(row)


async def test_logout_writes_one_audit_row(gateway: Gateway, admin_engine: AsyncEngine) -> None:
    owner = await create_tenant_with_owner(gateway.app)
    headers = await headers_for(gateway.client, owner)
    assert (await gateway.client.post("/api/v1/auth/logout", headers=headers)).status_code == 204
    row = only(await audit_rows(admin_engine, owner.tenant_id, "auth.logged_out"))
    assert (row["actor_type"], row["actor_id"]) == ("user", owner.id)


async def test_creating_a_user_writes_one_audit_row(gateway: Gateway, admin_engine: AsyncEngine) -> None:
    owner = await create_tenant_with_owner(gateway.app)
    headers = await headers_for(gateway.client, owner)
    before = len(await audit_rows(admin_engine, owner.tenant_id))
    email = unique_email()
    response = await gateway.client.post(
        "/api/v1/tenants/me/users", json={"email": email, "password": "secret-pass-1", "role": "admin"}, headers=headers
    )
    assert response.status_code == 201
    rows = await audit_rows(admin_engine, owner.tenant_id)
    assert len(rows) == before + 1
    row = rows[-1]
    assert (row["action"], row["actor_type"], row["actor_id"]) == ("user.created", "user", owner.id)
    assert (row["resource_type"], row["resource_id"]) == ("user", response.json()["id"])
    assert row["changes"] == {"email": email, "role": "admin"}
    assert "secret-pass-1" not in str(row)


async def test_updating_a_user_writes_one_audit_row(gateway: Gateway, admin_engine: AsyncEngine) -> None:
    owner = await create_tenant_with_owner(gateway.app)
    agent = await add_user(gateway.app, owner.tenant_id, "agent")
    headers = await headers_for(gateway.client, owner)
    response = await gateway.client.patch(
        f"/api/v1/tenants/me/users/{agent.id}", json={"role": "admin", "password": "new-secret-9"}, headers=headers
    )
    assert response.status_code == 200
    row = only(await audit_rows(admin_engine, owner.tenant_id, "user.updated"))
    assert (row["actor_id"], row["resource_id"]) == (owner.id, str(agent.id))
    assert row["changes"] == {"role": {"from": "agent", "to": "admin"}, "password_changed": True}
    assert "new-secret-9" not in str(row)


async def test_deleting_a_user_writes_one_audit_row(gateway: Gateway, admin_engine: AsyncEngine) -> None:
    owner = await create_tenant_with_owner(gateway.app)
    agent = await add_user(gateway.app, owner.tenant_id, "agent")
    headers = await headers_for(gateway.client, owner)
    assert (await gateway.client.delete(f"/api/v1/tenants/me/users/{agent.id}", headers=headers)).status_code == 204
    row = only(await audit_rows(admin_engine, owner.tenant_id, "user.deleted"))
    assert (row["actor_id"], row["resource_id"]) == (owner.id, str(agent.id))


async def test_updating_settings_writes_one_audit_row(gateway: Gateway, admin_engine: AsyncEngine) -> None:
    owner = await create_tenant_with_owner(gateway.app)
    headers = await headers_for(gateway.client, owner)
    response = await gateway.client.patch(
        "/api/v1/tenants/me/settings", json={"bot_name": "Layla", "retrieval": {"top_k": 8}}, headers=headers
    )
    assert response.status_code == 200
    row = only(await audit_rows(admin_engine, owner.tenant_id, "tenant.settings_updated"))
    assert row["actor_id"] == owner.id
    assert row["changes"]["bot_name"] == {"from": "Wafaa", "to": "Layla"}
    assert row["changes"]["retrieval"]["to"]["top_k"] == 8


async def test_platform_tenant_creation_writes_one_audit_row(gateway: Gateway, admin_engine: AsyncEngine) -> None:
    response = await gateway.client.post(
        "/api/v1/platform/tenants",
        json={"name": "Cafe", "owner_email": unique_email(), "owner_password": "owner-pass-1"},
        headers={"X-Platform-Key": gateway.app.state.settings.platform_api_key.get_secret_value()},
    )
    assert response.status_code == 201
    rows = await audit_rows(admin_engine, uuid.UUID(response.json()["tenant"]["id"]))
    row = only(rows)
    assert (row["action"], row["actor_type"], row["actor_id"]) == ("tenant.created", "platform", None)
    assert "owner-pass-1" not in str(row)


async def test_a_rejected_change_writes_no_audit_row(gateway: Gateway, admin_engine: AsyncEngine) -> None:
    owner = await create_tenant_with_owner(gateway.app)
    headers = await headers_for(gateway.client, owner)
    before = await audit_rows(admin_engine, owner.tenant_id)
    demote = await gateway.client.patch(f"/api/v1/tenants/me/users/{owner.id}", json={"role": "agent"}, headers=headers)
    assert demote.status_code == 409
    assert await audit_rows(admin_engine, owner.tenant_id) == before


async def test_audit_log_list_filters_and_paginates_with_a_cursor(gateway: Gateway) -> None:
    owner = await create_tenant_with_owner(gateway.app)
    headers = await headers_for(gateway.client, owner)
    for _ in range(5):
        await gateway.client.post(
            "/api/v1/tenants/me/users",
            json={"email": unique_email(), "password": "secret-pass-1", "role": "agent"},
            headers=headers,
        )
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"action": "user.created", "limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = (await gateway.client.get("/api/v1/audit-logs", params=params, headers=headers)).json()
        seen += [item["id"] for item in page["items"]]
        assert all(item["action"] == "user.created" for item in page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 5
    by_actor = await gateway.client.get(
        "/api/v1/audit-logs", params={"actor_id": str(owner.id), "action": "auth.logged_in"}, headers=headers
    )
    assert len(by_actor.json()["items"]) == 1
    future = await gateway.client.get("/api/v1/audit-logs", params={"since": "2999-01-01T00:00:00Z"}, headers=headers)
    assert future.json()["items"] == []
    bad = await gateway.client.get("/api/v1/audit-logs", params={"cursor": "!!!"}, headers=headers)
    assert bad.status_code == 422


async def test_csv_export_escapes_formula_cells(gateway: Gateway) -> None:
    owner = await create_tenant_with_owner(gateway.app)
    tokens = await login(gateway.client, owner)
    await gateway.client.patch(
        "/api/v1/tenants/me/settings",
        json={"bot_name": '=HYPERLINK("http://evil")'},
        headers={**bearer(tokens["access_token"]), "User-Agent": "@SUM(1+1)"},
    )
    response = await gateway.client.get("/api/v1/audit-logs/export.csv", headers=bearer(tokens["access_token"]))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    settings_row = next(r for r in rows if r["action"] == "tenant.settings_updated")
    assert settings_row["user_agent"] == "'@SUM(1+1)"
    for row in rows:
        for value in row.values():
            assert not value.startswith(("=", "+", "-", "@", "\t", "\r")), value


CHANNEL = {"platform": "whatsapp", "access_token": "EAAG-audit-token-4321"}


async def test_connecting_a_channel_writes_one_audit_row(gateway: Gateway, admin_engine: AsyncEngine) -> None:
    owner = await create_tenant_with_owner(gateway.app)
    headers = await headers_for(gateway.client, owner)
    body = CHANNEL | {"phone_number_id": str(uuid.uuid4().int)[:15]}
    response = await gateway.client.post("/api/v1/channels", json=body, headers=headers)
    assert response.status_code == 201
    row = only(await audit_rows(admin_engine, owner.tenant_id, "channel.created"))
    assert (row["actor_id"], row["resource_type"], row["resource_id"]) == (owner.id, "channel", response.json()["id"])
    assert "EAAG-audit-token-4321" not in str(row)


async def test_updating_a_channel_writes_one_audit_row(gateway: Gateway, admin_engine: AsyncEngine) -> None:
    owner = await create_tenant_with_owner(gateway.app)
    headers = await headers_for(gateway.client, owner)
    body = CHANNEL | {"phone_number_id": str(uuid.uuid4().int)[:15]}
    channel = (await gateway.client.post("/api/v1/channels", json=body, headers=headers)).json()
    response = await gateway.client.patch(f"/api/v1/channels/{channel['id']}", json={"name": "Main"}, headers=headers)
    assert response.status_code == 200
    row = only(await audit_rows(admin_engine, owner.tenant_id, "channel.updated"))
    assert (row["actor_id"], row["resource_id"], row["changes"]) == (owner.id, channel["id"], {"name": "Main"})


async def test_deleting_a_channel_writes_one_audit_row(gateway: Gateway, admin_engine: AsyncEngine) -> None:
    owner = await create_tenant_with_owner(gateway.app)
    headers = await headers_for(gateway.client, owner)
    body = CHANNEL | {"phone_number_id": str(uuid.uuid4().int)[:15]}
    channel = (await gateway.client.post("/api/v1/channels", json=body, headers=headers)).json()
    assert (await gateway.client.delete(f"/api/v1/channels/{channel['id']}", headers=headers)).status_code == 204
    row = only(await audit_rows(admin_engine, owner.tenant_id, "channel.deleted"))
    assert (row["actor_id"], row["resource_id"]) == (owner.id, channel["id"])


async def test_uploading_documents_writes_one_audit_row_per_document(
    infra: Infrastructure, redis: Redis, admin_engine: AsyncEngine, tmp_path: Path
) -> None:
    async with knowledge_gateway(infra, tmp_path) as (app, client):
        owner = await create_tenant_with_owner(app)
        headers = await headers_for(client, owner)
        before = len(await audit_rows(admin_engine, owner.tenant_id))
        response = await upload(client, headers, [("menu.txt", b"Hummus 28 AED"), ("faq.md", b"# FAQ")])
        assert response.status_code == 202
    rows = await audit_rows(admin_engine, owner.tenant_id)
    assert len(rows) == before + 2
    assert [(r["action"], r["actor_id"], r["resource_type"]) for r in rows[-2:]] == [
        ("knowledge.document_uploaded", owner.id, "knowledge_document")
    ] * 2
    assert sorted(r["resource_id"] for r in rows[-2:]) == sorted(d["id"] for d in response.json())
    assert {r["changes"]["filename"] for r in rows[-2:]} == {"menu.txt", "faq.md"}


async def test_reprocessing_a_document_writes_one_audit_row(
    infra: Infrastructure, redis: Redis, admin_engine: AsyncEngine, tmp_path: Path
) -> None:
    async with knowledge_gateway(infra, tmp_path) as (app, client):
        owner = await create_tenant_with_owner(app)
        headers = await headers_for(client, owner)
        doc = (await upload(client, headers, [("menu.txt", b"Hummus 28 AED")])).json()[0]
        assert (await client.post(f"/api/v1/knowledge/{doc['id']}/reprocess", headers=headers)).status_code == 202
    row = only(await audit_rows(admin_engine, owner.tenant_id, "knowledge.document_reprocessed"))
    assert (row["actor_id"], row["resource_id"], row["changes"]["generation"]) == (owner.id, doc["id"], 2)


async def test_deleting_a_document_writes_one_audit_row(
    infra: Infrastructure, redis: Redis, admin_engine: AsyncEngine, tmp_path: Path
) -> None:
    async with knowledge_gateway(infra, tmp_path) as (app, client):
        owner = await create_tenant_with_owner(app)
        headers = await headers_for(client, owner)
        doc = (await upload(client, headers, [("menu.txt", b"Hummus 28 AED")])).json()[0]
        assert (await client.delete(f"/api/v1/knowledge/{doc['id']}", headers=headers)).status_code == 204
    row = only(await audit_rows(admin_engine, owner.tenant_id, "knowledge.document_deleted"))
    assert (row["actor_id"], row["resource_id"], row["changes"]["filename"]) == (owner.id, doc["id"], "menu.txt")


async def test_chat_and_conversation_changes_write_one_audit_row_each(
    gateway: Gateway, admin_engine: AsyncEngine, start_service
) -> None:
    start_service("rag", embedding_provider="hash")
    owner = await create_tenant_with_owner(gateway.app)
    headers = await headers_for(gateway.client, owner)
    chat = await gateway.client.post("/api/v1/chat", json={"message": "hello"}, headers=headers)
    assert chat.status_code == 200, chat.text
    conversation_id = chat.json()["conversation_id"]
    async with gateway.client.stream(
        "POST", "/api/v1/chat/stream", json={"message": "hi", "conversation_id": conversation_id}, headers=headers
    ) as stream:
        assert "event: reply" in (await stream.aread()).decode()
    sent = await audit_rows(admin_engine, owner.tenant_id, "chat.message_sent")
    assert len(sent) == 2 and all(r["actor_id"] == owner.id for r in sent)
    assert "hello" not in str(sent)

    patch = await gateway.client.patch(
        f"/api/v1/conversations/{conversation_id}", json={"status": "resolved"}, headers=headers
    )
    assert patch.status_code == 200 and patch.json()["status"] == "resolved"
    row = only(await audit_rows(admin_engine, owner.tenant_id, "conversation.status_changed"))
    assert row["resource_id"] == conversation_id and row["changes"]["status"] == {"from": "open", "to": "resolved"}

    reply = await gateway.client.post(
        f"/api/v1/conversations/{conversation_id}/messages", json={"text": "Hi"}, headers=headers
    )
    assert reply.status_code == 202
    row = only(await audit_rows(admin_engine, owner.tenant_id, "conversation.agent_replied"))
    assert row["changes"]["message_id"] == reply.json()["message_id"]
