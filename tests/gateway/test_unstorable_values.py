"""Values the schema allows but Postgres refuses (NUL characters, datetimes beyond its range): 4xx, never 500.

Found by the Schemathesis battery (tests/attack). The database's "data exception" errors answer 422
`invalid_value` on every route; text the rag service would have to store is refused before it is
published; a body the framework cannot decode is a documented 400.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from redis.asyncio import Redis

from tests.fixtures.gateway import create_tenant_with_owner, headers_for
from tests.gateway.conftest import Gateway
from wafaa.common.events import AgentReplied, MessageReceived

pytestmark = pytest.mark.integration

NUL = "menu\x00prices"
UNSTORABLE: list[tuple[str, str, dict[str, Any]]] = [
    ("POST", "/api/v1/auth/login", {"json": {"email": "a\x00@example.com", "password": "whatever-1"}}),
    ("POST", "/api/v1/tenants/me/users", {"json": {"email": "a\x00@example.com", "password": "secret-pass-1"}}),
    ("PATCH", "/api/v1/tenants/me/settings", {"json": {"bot_name": NUL}}),
    ("GET", "/api/v1/audit-logs", {"params": {"action": NUL}}),
    ("GET", "/api/v1/audit-logs/export.csv", {"params": {"resource_type": NUL}}),
    (
        "POST",
        "/api/v1/channels",
        {"json": {"platform": "whatsapp", "phone_number_id": "1", "access_token": "EAAG-1234", "name": NUL}},
    ),
    ("GET", "/api/v1/knowledge", {"params": {"tag": NUL}}),
    ("POST", "/api/v1/knowledge/search", {"json": {"query": NUL}}),
    ("GET", "/api/v1/conversations", {"params": {"q": NUL}}),
    ("GET", "/api/v1/conversations", {"params": {"since": "0001-01-01T00:00:00+14:00"}}),
    ("GET", "/api/v1/audit-logs", {"params": {"until": "9999-12-31T23:59:59-14:00"}}),
]


@pytest.mark.parametrize(("method", "path", "request_args"), UNSTORABLE, ids=[f"{m} {p}" for m, p, _ in UNSTORABLE])
async def test_a_value_postgres_refuses_is_422_invalid_value(
    gateway: Gateway, method: str, path: str, request_args: dict[str, Any]
) -> None:
    headers = await headers_for(gateway.client, await create_tenant_with_owner(gateway.app))
    response = await gateway.client.request(method, path, headers=headers, **request_args)
    assert (response.status_code, response.json()["code"]) == (422, "invalid_value"), response.text


async def test_nul_in_a_test_chat_or_agent_reply_is_422_and_nothing_is_published(
    gateway: Gateway, redis: Redis
) -> None:
    headers = await headers_for(gateway.client, await create_tenant_with_owner(gateway.app))
    chat = await gateway.client.post("/api/v1/chat", json={"message": NUL}, headers=headers)
    reply = await gateway.client.post(
        f"/api/v1/conversations/{uuid.uuid4()}/messages", json={"text": NUL}, headers=headers
    )
    assert (chat.status_code, chat.json()["code"]) == (422, "validation_error")
    assert (reply.status_code, reply.json()["code"]) == (422, "validation_error")
    assert await redis.xlen(MessageReceived.stream) == 0 and await redis.xlen(AgentReplied.stream) == 0


async def test_a_body_that_is_not_utf8_is_a_documented_400(gateway: Gateway) -> None:
    response = await gateway.client.post(
        "/api/v1/auth/login", content=b'{"email": "\xff\xfe"}', headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400 and response.json()["code"] == "http_400"
    operations = [op for ops in gateway.app.openapi()["paths"].values() for op in ops.values()]
    with_body = [op for op in operations if "requestBody" in op]
    assert with_body and all("400" in op["responses"] for op in with_body)
    assert all("400" not in op["responses"] for op in operations if "requestBody" not in op)
