"""Tenant bot settings: partial updates merged and validated as a whole, with clear 422 errors."""

from __future__ import annotations

from typing import Any

import pytest

from tests.fixtures.gateway import create_tenant_with_owner, headers_for
from tests.gateway.conftest import Gateway

pytestmark = pytest.mark.integration

SETTINGS = "/api/v1/tenants/me/settings"


async def test_new_tenant_has_default_settings(gateway: Gateway) -> None:
    owner = await create_tenant_with_owner(gateway.app, "Cafe Nour")
    tenant = (await gateway.client.get("/api/v1/tenants/me", headers=await headers_for(gateway.client, owner))).json()
    assert tenant["name"] == "Cafe Nour"
    assert tenant["settings"]["bot_name"] == "Wafaa"
    assert tenant["settings"]["retrieval"]["top_k"] == 5


async def test_partial_update_keeps_the_other_settings(gateway: Gateway) -> None:
    owner = await create_tenant_with_owner(gateway.app)
    headers = await headers_for(gateway.client, owner)
    body = {
        "bot_name": "Layla",
        "languages": ["ar", "en", "fr"],
        "timezone": "Asia/Riyadh",
        "business_hours": {"fri": [{"open": "13:00", "close": "02:00"}]},
        "retrieval": {"top_k": 10},
        "llm": {"temperature": 0.1},
    }
    updated = (await gateway.client.patch(SETTINGS, json=body, headers=headers)).json()["settings"]
    assert updated["bot_name"] == "Layla"
    assert updated["retrieval"] == {"chunk_size": 400, "chunk_overlap": 50, "top_k": 10, "min_score": 0.3}
    assert updated["llm"]["temperature"] == 0.1 and updated["llm"]["max_tokens"] == 512
    again = (await gateway.client.patch(SETTINGS, json={"greeting": "Ahlan"}, headers=headers)).json()["settings"]
    assert (again["bot_name"], again["greeting"], again["timezone"]) == ("Layla", "Ahlan", "Asia/Riyadh")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"retrieval": {"chunk_size": 200, "chunk_overlap": 200}}, "retrieval"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"default_language": "fr"}, "default_language"),
        ({"llm": {"temperature": 3}}, "temperature"),
        ({"retrieval": {"min_score": 1.5}}, "min_score"),
        ({"business_hours": {"mon": [{"open": "25:00", "close": "10:00"}]}}, "open"),
        ({"bot_name": ""}, "bot_name"),
        ({"tenant_id": "x"}, "tenant_id"),
    ],
)
async def test_invalid_settings_are_422_naming_the_field(gateway: Gateway, body: dict[str, Any], field: str) -> None:
    owner = await create_tenant_with_owner(gateway.app)
    headers = await headers_for(gateway.client, owner)
    response = await gateway.client.patch(SETTINGS, json=body, headers=headers)
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "validation_error"
    assert field in str(response.json()["details"]) or field in response.json()["message"] + str(
        response.json()["details"]
    )
    unchanged = (await gateway.client.get("/api/v1/tenants/me", headers=headers)).json()["settings"]
    assert unchanged["bot_name"] == "Wafaa"
