"""Authentication: the happy path and every rejection case of the security checklist."""

from __future__ import annotations

import base64
import json
import time
import uuid
from typing import Any

import pytest
from jose import jwt
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
from tests.gateway.conftest import Gateway

pytestmark = pytest.mark.integration

ME = "/api/v1/auth/me"


def claims_for(user_id: Any, tenant_id: Any, **overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {
        "typ": "access",
        "sub": str(user_id),
        "tid": str(tenant_id),
        "fam": str(uuid.uuid4()),
        "jti": str(uuid.uuid4()),
        "iat": now,
        "exp": now + 600,
        "iss": "wafaa-gateway",
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def secret(gw: Gateway, kind: str = "access") -> str:
    settings = gw.app.state.settings
    return (settings.jwt_secret if kind == "access" else settings.jwt_refresh_secret).get_secret_value()


async def test_login_me_refresh_logout_happy_path(gateway: Gateway) -> None:
    owner = await create_tenant_with_owner(gateway.app)
    tokens = await login(gateway.client, owner)
    assert tokens["token_type"] == "bearer"
    assert tokens["expires_in"] == 15 * 60
    me = await gateway.client.get(ME, headers=bearer(tokens["access_token"]))
    assert me.status_code == 200
    assert me.json()["email"] == owner.email
    assert me.json()["tenant_id"] == str(owner.tenant_id)
    assert me.json()["role"] == "owner"

    refreshed = await gateway.client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert refreshed.status_code == 200
    new = refreshed.json()
    assert set(new) == {"access_token", "refresh_token", "token_type", "expires_in"}
    assert new["refresh_token"] != tokens["refresh_token"]
    assert (await gateway.client.get(ME, headers=bearer(new["access_token"]))).status_code == 200

    out = await gateway.client.post("/api/v1/auth/logout", headers=bearer(new["access_token"]))
    assert out.status_code == 204
    assert (await gateway.client.get(ME, headers=bearer(new["access_token"]))).status_code == 401


async def test_login_email_is_case_insensitive(gateway: Gateway) -> None:
    owner = await create_tenant_with_owner(gateway.app)
    response = await gateway.client.post(
        "/api/v1/auth/login", json={"email": owner.email.upper(), "password": owner.password}
    )
    assert response.status_code == 200


async def test_unknown_email_and_wrong_password_get_the_same_answer(gateway: Gateway) -> None:
    owner = await create_tenant_with_owner(gateway.app)
    wrong = await gateway.client.post("/api/v1/auth/login", json={"email": owner.email, "password": "not-it-at-all"})
    unknown = await gateway.client.post(
        "/api/v1/auth/login", json={"email": unique_email("ghost"), "password": "not-it-at-all"}
    )
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json() == {"code": "invalid_credentials", "message": wrong.json()["message"]}


async def test_unknown_email_costs_a_bcrypt_check_like_a_known_one(gateway: Gateway) -> None:
    owner = await create_tenant_with_owner(gateway.app)
    await gateway.client.post("/api/v1/auth/login", json={"email": unique_email(), "password": "warm-up-dummy"})

    async def timed(email: str) -> float:
        started = time.perf_counter()
        await gateway.client.post("/api/v1/auth/login", json={"email": email, "password": "not-it-at-all"})
        return time.perf_counter() - started

    known = min([await timed(owner.email) for _ in range(3)])
    unknown = min([await timed(unique_email()) for _ in range(3)])
    # Both pay one bcrypt check; without the dummy hash the unknown email would be several times faster.
    assert unknown > known * 0.5


async def test_alg_none_token_is_rejected(gateway: Gateway) -> None:
    owner = await create_tenant_with_owner(gateway.app)
    header = base64.urlsafe_b64encode(json.dumps({"alg": "none", "typ": "JWT"}).encode()).rstrip(b"=")
    payload = base64.urlsafe_b64encode(json.dumps(claims_for(owner.id, owner.tenant_id)).encode()).rstrip(b"=")
    token = f"{header.decode()}.{payload.decode()}."
    response = await gateway.client.get(ME, headers=bearer(token))
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_token"


async def test_token_signed_with_another_algorithm_is_rejected(gateway: Gateway) -> None:
    owner = await create_tenant_with_owner(gateway.app)
    token = jwt.encode(claims_for(owner.id, owner.tenant_id), secret(gateway), algorithm="HS512")
    assert (await gateway.client.get(ME, headers=bearer(token))).status_code == 401


async def test_correctly_signed_token_is_accepted(gateway: Gateway) -> None:
    """The control for the forged-token tests: the same construction with every claim works."""
    owner = await create_tenant_with_owner(gateway.app)
    token = jwt.encode(claims_for(owner.id, owner.tenant_id), secret(gateway), algorithm="HS256")
    assert (await gateway.client.get(ME, headers=bearer(token))).status_code == 200


@pytest.mark.parametrize("claim", ["exp", "iat", "sub", "jti", "typ"])
async def test_token_missing_a_required_claim_is_rejected(gateway: Gateway, claim: str) -> None:
    owner = await create_tenant_with_owner(gateway.app)
    token = jwt.encode(claims_for(owner.id, owner.tenant_id, **{claim: None}), secret(gateway), algorithm="HS256")
    assert (await gateway.client.get(ME, headers=bearer(token))).status_code == 401


async def test_expired_token_is_rejected(gateway: Gateway) -> None:
    owner = await create_tenant_with_owner(gateway.app)
    past = int(time.time()) - 3600
    claims = claims_for(owner.id, owner.tenant_id, iat=past - 900, exp=past)
    token = jwt.encode(claims, secret(gateway), algorithm="HS256")
    assert (await gateway.client.get(ME, headers=bearer(token))).status_code == 401


async def test_edited_payload_is_rejected(gateway: Gateway) -> None:
    owner = await create_tenant_with_owner(gateway.app)
    agent = await add_user(gateway.app, owner.tenant_id, "agent")
    token = (await login(gateway.client, agent))["access_token"]
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["sub"] = str(owner.id)
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    assert (await gateway.client.get(ME, headers=bearer(f"{header}.{forged}.{signature}"))).status_code == 401


async def test_token_naming_another_tenant_than_the_users_is_rejected(gateway: Gateway) -> None:
    a = await create_tenant_with_owner(gateway.app, "A")
    b = await create_tenant_with_owner(gateway.app, "B")
    token = jwt.encode(claims_for(a.id, b.tenant_id), secret(gateway), algorithm="HS256")
    assert (await gateway.client.get(ME, headers=bearer(token))).status_code == 401


async def test_refresh_token_used_as_access_token_is_rejected(gateway: Gateway) -> None:
    owner = await create_tenant_with_owner(gateway.app)
    tokens = await login(gateway.client, owner)
    assert (await gateway.client.get(ME, headers=bearer(tokens["refresh_token"]))).status_code == 401


async def test_access_token_used_as_refresh_token_is_rejected(gateway: Gateway) -> None:
    owner = await create_tenant_with_owner(gateway.app)
    tokens = await login(gateway.client, owner)
    response = await gateway.client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["access_token"]})
    assert response.status_code == 401


async def test_refresh_claims_signed_with_the_access_secret_are_rejected(gateway: Gateway) -> None:
    owner = await create_tenant_with_owner(gateway.app)
    token = jwt.encode(claims_for(owner.id, owner.tenant_id, typ="refresh"), secret(gateway), algorithm="HS256")
    assert (await gateway.client.post("/api/v1/auth/refresh", json={"refresh_token": token})).status_code == 401


async def test_reusing_a_rotated_refresh_token_revokes_the_whole_family(
    gateway: Gateway, admin_engine: AsyncEngine
) -> None:
    owner = await create_tenant_with_owner(gateway.app)
    first = await login(gateway.client, owner)
    second = (await gateway.client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})).json()

    reused = await gateway.client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert reused.status_code == 401
    # The thief's or the user's newer token dies with the family.
    later = await gateway.client.post("/api/v1/auth/refresh", json={"refresh_token": second["refresh_token"]})
    assert later.status_code == 401
    assert len(await audit_rows(admin_engine, owner.tenant_id, "auth.refresh_reuse_detected")) == 2


async def test_other_sessions_survive_a_revoked_family(gateway: Gateway) -> None:
    owner = await create_tenant_with_owner(gateway.app)
    laptop = await login(gateway.client, owner)
    phone = await login(gateway.client, owner)
    await gateway.client.post("/api/v1/auth/refresh", json={"refresh_token": laptop["refresh_token"]})
    await gateway.client.post("/api/v1/auth/refresh", json={"refresh_token": laptop["refresh_token"]})
    ok = await gateway.client.post("/api/v1/auth/refresh", json={"refresh_token": phone["refresh_token"]})
    assert ok.status_code == 200


async def test_logged_out_access_token_is_rejected_and_its_refresh_family_revoked(gateway: Gateway) -> None:
    owner = await create_tenant_with_owner(gateway.app)
    tokens = await login(gateway.client, owner)
    assert (await gateway.client.post("/api/v1/auth/logout", headers=bearer(tokens["access_token"]))).status_code == 204
    assert (await gateway.client.get(ME, headers=bearer(tokens["access_token"]))).status_code == 401
    response = await gateway.client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert response.status_code == 401


async def test_logout_blocklist_entry_expires_with_the_token(gateway: Gateway, redis: Redis) -> None:
    owner = await create_tenant_with_owner(gateway.app)
    tokens = await login(gateway.client, owner)
    await gateway.client.post("/api/v1/auth/logout", headers=bearer(tokens["access_token"]))
    keys = [k async for k in redis.scan_iter(match=f"tenant:{owner.tenant_id}:auth:blocklist:*")]
    assert len(keys) == 1
    assert 0 < await redis.ttl(keys[0]) <= 15 * 60


async def test_removed_users_token_stops_working_at_the_next_request(gateway: Gateway) -> None:
    owner = await create_tenant_with_owner(gateway.app)
    agent = await add_user(gateway.app, owner.tenant_id, "agent")
    agent_tokens = await login(gateway.client, agent)
    owner_headers = await headers_for(gateway.client, owner)
    assert (await gateway.client.get(ME, headers=bearer(agent_tokens["access_token"]))).status_code == 200
    deleted = await gateway.client.delete(f"/api/v1/tenants/me/users/{agent.id}", headers=owner_headers)
    assert deleted.status_code == 204
    assert (await gateway.client.get(ME, headers=bearer(agent_tokens["access_token"]))).status_code == 401
    refresh = await gateway.client.post("/api/v1/auth/refresh", json={"refresh_token": agent_tokens["refresh_token"]})
    assert refresh.status_code == 401


async def test_disabled_users_token_stops_working_and_they_cannot_log_in(gateway: Gateway) -> None:
    owner = await create_tenant_with_owner(gateway.app)
    agent = await add_user(gateway.app, owner.tenant_id, "agent")
    agent_tokens = await login(gateway.client, agent)
    owner_headers = await headers_for(gateway.client, owner)
    patched = await gateway.client.patch(
        f"/api/v1/tenants/me/users/{agent.id}", json={"status": "disabled"}, headers=owner_headers
    )
    assert patched.status_code == 200
    assert (await gateway.client.get(ME, headers=bearer(agent_tokens["access_token"]))).status_code == 401
    again = await gateway.client.post("/api/v1/auth/login", json={"email": agent.email, "password": agent.password})
    assert again.status_code == 401


async def test_73_byte_password_is_401_on_login_and_422_when_set(gateway: Gateway) -> None:
    owner = await create_tenant_with_owner(gateway.app)
    long = "a" * 73
    response = await gateway.client.post("/api/v1/auth/login", json={"email": owner.email, "password": long})
    assert response.status_code == 401
    created = await gateway.client.post(
        "/api/v1/tenants/me/users",
        json={"email": unique_email(), "password": long, "role": "agent"},
        headers=await headers_for(gateway.client, owner),
    )
    assert created.status_code == 422
    assert created.json()["code"] == "validation_error"


async def test_password_of_37_arabic_letters_is_74_bytes_so_401_on_login_and_422_when_set(gateway: Gateway) -> None:
    owner = await create_tenant_with_owner(gateway.app)
    arabic = "ب" * 37
    assert len(arabic.encode()) == 74
    response = await gateway.client.post("/api/v1/auth/login", json={"email": owner.email, "password": arabic})
    assert response.status_code == 401
    changed = await gateway.client.patch(
        f"/api/v1/tenants/me/users/{owner.id}",
        json={"password": arabic},
        headers=await headers_for(gateway.client, owner),
    )
    assert changed.status_code == 422


async def test_password_of_36_arabic_letters_fits_and_works(gateway: Gateway) -> None:
    arabic = "ب" * 36
    owner = await create_tenant_with_owner(gateway.app, password=arabic)
    assert (await login(gateway.client, owner))["access_token"]


async def test_missing_or_malformed_authorization_is_401(gateway: Gateway) -> None:
    assert (await gateway.client.get(ME)).status_code == 401
    assert (await gateway.client.get(ME, headers={"Authorization": "Basic abc"})).status_code == 401
    assert (await gateway.client.get(ME, headers=bearer("not.a.jwt"))).status_code == 401


async def test_failed_logins_per_account_are_throttled_with_retry_after(gateway: Gateway) -> None:
    owner = await create_tenant_with_owner(gateway.app)
    for _ in range(5):
        wrong = await gateway.client.post("/api/v1/auth/login", json={"email": owner.email, "password": "wrong-pass"})
        assert wrong.status_code == 401
    blocked = await gateway.client.post("/api/v1/auth/login", json={"email": owner.email, "password": PASSWORD})
    assert blocked.status_code == 429
    assert blocked.json()["code"] == "too_many_attempts"
    assert 0 < int(blocked.headers["Retry-After"]) <= 900


async def test_failed_logins_per_ip_are_throttled_across_accounts(infra: Any, redis: Redis) -> None:
    from tests.fixtures.gateway import gateway_settings, running_gateway

    settings = gateway_settings(infra, login_max_attempts_per_ip=3)
    async with running_gateway(settings) as (app, client):
        owner = await create_tenant_with_owner(app)
        for _ in range(3):
            r = await client.post("/api/v1/auth/login", json={"email": unique_email(), "password": "whatever-1"})
            assert r.status_code == 401
        blocked = await client.post("/api/v1/auth/login", json={"email": owner.email, "password": owner.password})
        assert blocked.status_code == 429
        assert "Retry-After" in blocked.headers


async def test_when_redis_is_down_authenticated_requests_fail_closed_with_503(gateway: Gateway) -> None:
    owner = await create_tenant_with_owner(gateway.app)
    tokens = await login(gateway.client, owner)
    dead = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.5)
    auth = gateway.app.state.auth
    original = (auth.blocklist.redis, auth.throttle.redis)
    auth.blocklist.redis = auth.throttle.redis = dead
    try:
        me = await gateway.client.get(ME, headers=bearer(tokens["access_token"]))
        assert me.status_code == 503
        assert me.json()["code"] == "auth_unavailable"
        again = await gateway.client.post("/api/v1/auth/login", json={"email": owner.email, "password": PASSWORD})
        assert again.status_code == 503
    finally:
        auth.blocklist.redis, auth.throttle.redis = original
        await dead.aclose()


async def test_tenant_header_or_query_never_selects_the_tenant(gateway: Gateway) -> None:
    a = await create_tenant_with_owner(gateway.app, "A")
    b = await create_tenant_with_owner(gateway.app, "B")
    headers = {**await headers_for(gateway.client, a), "X-Tenant-ID": str(b.tenant_id)}
    response = await gateway.client.get(f"/api/v1/tenants/me?tenant_id={b.tenant_id}", headers=headers)
    assert response.json()["id"] == str(a.tenant_id)


async def test_login_body_with_extra_fields_is_rejected(gateway: Gateway) -> None:
    owner = await create_tenant_with_owner(gateway.app)
    response = await gateway.client.post(
        "/api/v1/auth/login", json={"email": owner.email, "password": PASSWORD, "tenant_id": str(uuid.uuid4())}
    )
    assert response.status_code == 422
