"""Onboarding: the platform API behind its own key, and the `wafaa tenant create` CLI."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.fixtures.gateway import PASSWORD, unique_email
from tests.fixtures.infrastructure import Infrastructure
from tests.gateway.conftest import Gateway

pytestmark = pytest.mark.integration

TENANTS = "/api/v1/platform/tenants"


def key(gateway: Gateway) -> dict[str, str]:
    return {"X-Platform-Key": gateway.app.state.settings.platform_api_key.get_secret_value()}


async def test_platform_key_creates_a_tenant_whose_owner_can_log_in(gateway: Gateway) -> None:
    email = unique_email("owner")
    response = await gateway.client.post(
        TENANTS, json={"name": "Cafe Nour", "owner_email": email, "owner_password": PASSWORD}, headers=key(gateway)
    )
    assert response.status_code == 201
    body = response.json()
    assert body["tenant"]["name"] == "Cafe Nour"
    assert (body["owner"]["email"], body["owner"]["role"]) == (email, "owner")
    assert body["owner"]["tenant_id"] == body["tenant"]["id"]
    login = await gateway.client.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert login.status_code == 200


@pytest.mark.parametrize("headers", [{}, {"X-Platform-Key": "wrong"}, {"X-Platform-Key": ""}])
async def test_platform_api_without_the_right_key_is_401(gateway: Gateway, headers: dict[str, str]) -> None:
    response = await gateway.client.post(
        TENANTS, json={"name": "X", "owner_email": unique_email(), "owner_password": PASSWORD}, headers=headers
    )
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_platform_key"


async def test_a_user_access_token_is_not_a_platform_key(gateway: Gateway) -> None:
    email = unique_email()
    await gateway.client.post(
        TENANTS, json={"name": "X", "owner_email": email, "owner_password": PASSWORD}, headers=key(gateway)
    )
    token = (await gateway.client.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})).json()
    response = await gateway.client.post(
        TENANTS,
        json={"name": "Y", "owner_email": unique_email(), "owner_password": PASSWORD},
        headers={"Authorization": f"Bearer {token['access_token']}"},
    )
    assert response.status_code == 401


async def test_platform_api_refuses_a_taken_owner_email_and_long_password(gateway: Gateway) -> None:
    email = unique_email()
    body = {"name": "X", "owner_email": email, "owner_password": PASSWORD}
    assert (await gateway.client.post(TENANTS, json=body, headers=key(gateway))).status_code == 201
    assert (await gateway.client.post(TENANTS, json=body, headers=key(gateway))).status_code == 409
    long = {"name": "X", "owner_email": unique_email(), "owner_password": "ب" * 37}
    assert (await gateway.client.post(TENANTS, json=long, headers=key(gateway))).status_code == 422


def run_cli(infra: Infrastructure, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"DATABASE_URL": infra.app_url, "REDIS_URL": infra.redis_url, "BCRYPT_ROUNDS": "4", "PATH": "/usr/bin:/bin"}
    return subprocess.run(
        [sys.executable, "-m", "wafaa.gateway.cli", *args], capture_output=True, text=True, env=env, timeout=60
    )


async def test_cli_creates_a_tenant_and_prints_it_as_json(infra: Infrastructure, gateway: Gateway) -> None:
    email = unique_email("cli")
    result = run_cli(infra, "tenant", "create", "--name", "Demo", "--owner-email", email, "--owner-password", PASSWORD)
    assert result.returncode == 0, result.stderr
    created = json.loads(result.stdout)
    assert created["tenant"]["name"] == "Demo"
    assert (created["owner"]["email"], created["owner"]["role"]) == (email, "owner")
    login = await gateway.client.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert login.status_code == 200

    again = run_cli(infra, "tenant", "create", "--name", "Demo", "--owner-email", email, "--owner-password", PASSWORD)
    assert again.returncode == 3
    assert "email_taken" in again.stderr


def test_cli_rejects_a_password_over_72_bytes_with_exit_code_2(infra: Infrastructure) -> None:
    result = run_cli(
        infra, "tenant", "create", "--name", "X", "--owner-email", unique_email(), "--owner-password", "a" * 73
    )
    assert result.returncode == 2
    assert "72 bytes" in result.stderr
