"""Each endpoint called with each role: only the allowed roles succeed (others get 403)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from tests.fixtures.gateway import SeededUser, add_user, create_tenant_with_owner, headers_for, unique_email
from tests.gateway.conftest import Gateway

pytestmark = pytest.mark.integration

Call = Callable[[httpx.AsyncClient, dict[str, str], SeededUser], Awaitable[httpx.Response]]


async def _create_agent(client: httpx.AsyncClient, headers: dict[str, str], _: SeededUser) -> httpx.Response:
    body = {"email": unique_email(), "password": "secret-pass-1", "role": "agent"}
    return await client.post("/api/v1/tenants/me/users", json=body, headers=headers)


async def _create_owner(client: httpx.AsyncClient, headers: dict[str, str], _: SeededUser) -> httpx.Response:
    body = {"email": unique_email(), "password": "secret-pass-1", "role": "owner"}
    return await client.post("/api/v1/tenants/me/users", json=body, headers=headers)


async def _patch_agent(client: httpx.AsyncClient, headers: dict[str, str], target: SeededUser) -> httpx.Response:
    return await client.patch(f"/api/v1/tenants/me/users/{target.id}", json={"status": "disabled"}, headers=headers)


async def _delete_agent(client: httpx.AsyncClient, headers: dict[str, str], target: SeededUser) -> httpx.Response:
    return await client.delete(f"/api/v1/tenants/me/users/{target.id}", headers=headers)


async def _patch_owner(client: httpx.AsyncClient, headers: dict[str, str], target: SeededUser) -> httpx.Response:
    return await client.patch(f"/api/v1/tenants/me/users/{target.id}", json={"role": "admin"}, headers=headers)


def _get(path: str) -> Call:
    async def call(client: httpx.AsyncClient, headers: dict[str, str], _: SeededUser) -> httpx.Response:
        return await client.get(path, headers=headers)

    return call


def _patch_settings(body: dict[str, Any]) -> Call:
    async def call(client: httpx.AsyncClient, headers: dict[str, str], _: SeededUser) -> httpx.Response:
        return await client.patch("/api/v1/tenants/me/settings", json=body, headers=headers)

    return call


# endpoint name -> (call, target role, roles allowed)
MATRIX: dict[str, tuple[Call, str, set[str]]] = {
    "GET /auth/me": (_get("/api/v1/auth/me"), "agent", {"owner", "admin", "agent"}),
    "GET /tenants/me": (_get("/api/v1/tenants/me"), "agent", {"owner", "admin", "agent"}),
    "PATCH /tenants/me/settings (bot)": (_patch_settings({"greeting": "Hi"}), "agent", {"owner", "admin"}),
    "PATCH /tenants/me/settings (llm)": (_patch_settings({"llm": {"temperature": 0.5}}), "agent", {"owner"}),
    "GET /tenants/me/users": (_get("/api/v1/tenants/me/users"), "agent", {"owner", "admin"}),
    "POST /tenants/me/users (agent)": (_create_agent, "agent", {"owner", "admin"}),
    "POST /tenants/me/users (owner)": (_create_owner, "agent", {"owner"}),
    "PATCH /tenants/me/users/{agent}": (_patch_agent, "agent", {"owner", "admin"}),
    "DELETE /tenants/me/users/{agent}": (_delete_agent, "agent", {"owner", "admin"}),
    "PATCH /tenants/me/users/{owner}": (_patch_owner, "owner", {"owner"}),
    "GET /audit-logs": (_get("/api/v1/audit-logs"), "agent", {"owner", "admin"}),
    "GET /audit-logs/export.csv": (_get("/api/v1/audit-logs/export.csv"), "agent", {"owner", "admin"}),
}


@pytest.mark.parametrize("role", ["owner", "admin", "agent"])
@pytest.mark.parametrize("endpoint", sorted(MATRIX))
async def test_role_matrix(gateway: Gateway, endpoint: str, role: str) -> None:
    call, target_role, allowed = MATRIX[endpoint]
    owner = await create_tenant_with_owner(gateway.app)
    # A second owner, so changing one owner never trips the last-owner rule.
    second_owner = await add_user(gateway.app, owner.tenant_id, "owner")
    caller = owner if role == "owner" else await add_user(gateway.app, owner.tenant_id, role)
    target = second_owner if target_role == "owner" else await add_user(gateway.app, owner.tenant_id, "agent")
    response = await call(gateway.client, await headers_for(gateway.client, caller), target)
    if role in allowed:
        assert response.status_code < 300, response.text
    else:
        assert response.status_code == 403, response.text
        assert response.json()["code"] == "forbidden"
