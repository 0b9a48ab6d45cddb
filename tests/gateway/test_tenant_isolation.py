"""Two tenants with colliding data: A never reaches B's rows, and B's ids look like missing ids."""

from __future__ import annotations

import uuid

import pytest

from tests.fixtures.gateway import add_user, create_tenant_with_owner, headers_for
from tests.gateway.conftest import Gateway

pytestmark = pytest.mark.integration


async def two_tenants(gateway: Gateway) -> tuple[dict[str, str], dict[str, object]]:
    """Tenants with the same name, the same roles and the same settings; returns A's headers and B's ids."""
    a = await create_tenant_with_owner(gateway.app, "Shawarma House")
    b = await create_tenant_with_owner(gateway.app, "Shawarma House")
    await add_user(gateway.app, a.tenant_id, "agent")
    b_agent = await add_user(gateway.app, b.tenant_id, "agent")
    a_headers = await headers_for(gateway.client, a)
    b_headers = await headers_for(gateway.client, b)
    for headers in (a_headers, b_headers):
        await gateway.client.patch("/api/v1/tenants/me/settings", json={"bot_name": "Same"}, headers=headers)
    return a_headers, {"owner": b.id, "agent": b_agent.id, "tenant": b.tenant_id, "b_headers": b_headers}


@pytest.mark.parametrize("method", ["PATCH", "DELETE"])
async def test_another_tenants_user_id_answers_404_like_a_missing_id(gateway: Gateway, method: str) -> None:
    a_headers, b = await two_tenants(gateway)
    body = {"role": "admin"} if method == "PATCH" else None
    other = await gateway.client.request(method, f"/api/v1/tenants/me/users/{b['agent']}", json=body, headers=a_headers)
    missing = await gateway.client.request(
        method, f"/api/v1/tenants/me/users/{uuid.uuid4()}", json=body, headers=a_headers
    )
    assert other.status_code == missing.status_code == 404
    assert other.json() == missing.json()
    # And B's user is untouched.
    still = await gateway.client.get("/api/v1/tenants/me/users", headers=b["b_headers"])  # type: ignore[arg-type]
    assert {u["id"]: u["role"] for u in still.json()}[str(b["agent"])] == "agent"


async def test_user_list_never_shows_another_tenants_users(gateway: Gateway) -> None:
    a_headers, b = await two_tenants(gateway)
    users = (await gateway.client.get("/api/v1/tenants/me/users", headers=a_headers)).json()
    assert len(users) == 2
    ids = {u["id"] for u in users}
    assert str(b["owner"]) not in ids and str(b["agent"]) not in ids
    assert {u["tenant_id"] for u in users} != {str(b["tenant"])}


async def test_audit_logs_never_show_another_tenants_rows(gateway: Gateway) -> None:
    a_headers, b = await two_tenants(gateway)
    page = (await gateway.client.get("/api/v1/audit-logs", params={"limit": 200}, headers=a_headers)).json()
    assert page["items"]
    assert all(
        item["resource_id"] not in {str(b["agent"]), str(b["owner"]), str(b["tenant"])} for item in page["items"]
    )
    filtered = await gateway.client.get(
        "/api/v1/audit-logs", params={"resource_id": str(b["agent"])}, headers=a_headers
    )
    assert filtered.json()["items"] == []
    exported = await gateway.client.get("/api/v1/audit-logs/export.csv", headers=a_headers)
    assert str(b["agent"]) not in exported.text and str(b["tenant"]) not in exported.text


async def test_tenant_endpoint_shows_only_the_callers_tenant(gateway: Gateway) -> None:
    a_headers, b = await two_tenants(gateway)
    mine = (await gateway.client.get("/api/v1/tenants/me", headers=a_headers)).json()
    assert mine["id"] != str(b["tenant"])
