"""Request ids: every answer carries one (the caller's when sane), FastAPI's own 500s included."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.gateway.conftest import Gateway

pytestmark = pytest.mark.integration


async def test_a_sane_request_id_is_echoed_and_anything_else_is_replaced(gateway: Gateway) -> None:
    kept = await gateway.client.get("/api/v1/health", headers={"X-Request-ID": "support-ticket-42"})
    assert kept.headers["x-request-id"] == "support-ticket-42"
    replaced = await gateway.client.get("/api/v1/health", headers={"X-Request-ID": "bad id\twith tab"})
    assert re.fullmatch(r"[0-9a-f]{32}", replaced.headers["x-request-id"])
    generated = await gateway.client.get("/api/v1/health")
    assert re.fullmatch(r"[0-9a-f]{32}", generated.headers["x-request-id"])
    assert generated.headers["x-request-id"] != replaced.headers["x-request-id"]


async def test_an_unexpected_error_in_a_route_is_a_json_500_with_the_request_id(gateway: Gateway) -> None:
    async def broken() -> None:
        raise ZeroDivisionError("secret detail")

    gateway.app.add_api_route("/api/v1/test-only/broken", broken)
    # the server error layer answers, then re-raises for the server to log; this client must not raise it
    transport = httpx.ASGITransport(app=gateway.app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as client:
        response = await client.get("/api/v1/test-only/broken", headers={"X-Request-ID": "trace-500"})
    assert (response.status_code, response.json()["code"]) == (500, "internal_error")
    assert response.headers["x-request-id"] == "trace-500"
    assert "secret detail" not in response.text
