"""User management rules: the last owner, unique emails, fields that are never obeyed."""

from __future__ import annotations

import pytest

from tests.fixtures.gateway import add_user, create_tenant_with_owner, headers_for, unique_email
from tests.gateway.conftest import Gateway

pytestmark = pytest.mark.integration

USERS = "/api/v1/tenants/me/users"


async def test_owner_adds_lists_changes_and_removes_a_user(gateway: Gateway) -> None:
    owner = await create_tenant_with_owner(gateway.app)
    headers = await headers_for(gateway.client, owner)
    email = unique_email()
    created = await gateway.client.post(
        USERS, json={"email": f"  {email.upper()} ", "password": "secret-pass-1", "role": "agent"}, headers=headers
    )
    assert created.status_code == 201
    user = created.json()
    assert (user["email"], user["role"], user["status"]) == (email, "agent", "active")
    assert "password" not in user and "password_hash" not in user
    listed = (await gateway.client.get(USERS, headers=headers)).json()
    assert {u["email"] for u in listed} == {owner.email, email}
    patched = await gateway.client.patch(f"{USERS}/{user['id']}", json={"role": "admin"}, headers=headers)
    assert patched.json()["role"] == "admin"
    assert (await gateway.client.delete(f"{USERS}/{user['id']}", headers=headers)).status_code == 204
    assert len((await gateway.client.get(USERS, headers=headers)).json()) == 1


async def test_the_last_owner_cannot_be_removed_demoted_or_disabled(gateway: Gateway) -> None:
    owner = await create_tenant_with_owner(gateway.app)
    headers = await headers_for(gateway.client, owner)
    for method, body in (("DELETE", None), ("PATCH", {"role": "admin"}), ("PATCH", {"status": "disabled"})):
        response = await gateway.client.request(method, f"{USERS}/{owner.id}", json=body, headers=headers)
        assert response.status_code == 409, (method, body)
        assert response.json()["code"] == "last_owner"


async def test_an_owner_can_be_demoted_when_another_owner_remains(gateway: Gateway) -> None:
    owner = await create_tenant_with_owner(gateway.app)
    other = await add_user(gateway.app, owner.tenant_id, "owner")
    headers = await headers_for(gateway.client, owner)
    response = await gateway.client.patch(f"{USERS}/{other.id}", json={"role": "admin"}, headers=headers)
    assert response.status_code == 200
    again = await gateway.client.patch(f"{USERS}/{owner.id}", json={"role": "admin"}, headers=headers)
    assert again.status_code == 409


async def test_an_email_in_use_in_any_tenant_is_refused_with_409(gateway: Gateway) -> None:
    a = await create_tenant_with_owner(gateway.app)
    b = await create_tenant_with_owner(gateway.app)
    response = await gateway.client.post(
        USERS,
        json={"email": b.email, "password": "secret-pass-1", "role": "agent"},
        headers=await headers_for(gateway.client, a),
    )
    assert response.status_code == 409
    assert response.json()["code"] == "email_taken"


async def test_body_carrying_tenant_id_is_rejected(gateway: Gateway) -> None:
    a = await create_tenant_with_owner(gateway.app)
    b = await create_tenant_with_owner(gateway.app)
    headers = await headers_for(gateway.client, a)
    response = await gateway.client.post(
        USERS,
        json={"email": unique_email(), "password": "secret-pass-1", "role": "agent", "tenant_id": str(b.tenant_id)},
        headers=headers,
    )
    assert response.status_code == 422
    patch = await gateway.client.patch(f"{USERS}/{a.id}", json={"tenant_id": str(b.tenant_id)}, headers=headers)
    assert patch.status_code == 422


async def test_invalid_role_and_short_password_are_422(gateway: Gateway) -> None:
    owner = await create_tenant_with_owner(gateway.app)
    headers = await headers_for(gateway.client, owner)
    bad_role = await gateway.client.post(
        USERS, json={"email": unique_email(), "password": "secret-pass-1", "role": "superuser"}, headers=headers
    )
    short = await gateway.client.post(
        USERS, json={"email": unique_email(), "password": "short", "role": "agent"}, headers=headers
    )
    bad_email = await gateway.client.post(
        USERS, json={"email": "not-an-email", "password": "secret-pass-1"}, headers=headers
    )
    assert bad_role.status_code == short.status_code == bad_email.status_code == 422
