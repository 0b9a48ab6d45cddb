"""The analytics period: a day range the answers can also compare with the range just before it."""

from __future__ import annotations

import pytest

from tests.fixtures.gateway import create_tenant_with_owner, headers_for
from tests.gateway.conftest import Gateway

pytestmark = pytest.mark.integration

ENDPOINTS = ["overview", "trends", "channels", "agent/sentiment", "agent/response-times", "agent/insights"]


@pytest.mark.parametrize(
    "params",
    [
        {"from": "0001-01-01", "to": "0001-01-05"},  # the previous period would start before year 1
        {"to": "0001-01-01"},  # the default `from` (30 days earlier) does not exist
    ],
)
async def test_a_period_at_the_start_of_the_calendar_is_422_not_500(gateway: Gateway, params: dict[str, str]) -> None:
    headers = await headers_for(gateway.client, await create_tenant_with_owner(gateway.app))
    for endpoint in ENDPOINTS:
        response = await gateway.client.get(f"/api/v1/analytics/{endpoint}", params=params, headers=headers)
        assert (response.status_code, response.json()["code"]) == (422, "invalid_period"), endpoint


async def test_a_period_at_the_end_of_the_calendar_still_answers(gateway: Gateway) -> None:
    headers = await headers_for(gateway.client, await create_tenant_with_owner(gateway.app))
    params = {"from": "9999-12-25", "to": "9999-12-31"}
    response = await gateway.client.get("/api/v1/analytics/overview", params=params, headers=headers)
    assert response.status_code == 200
    assert response.json()["previous_period"] == {"from": "9999-12-18", "to": "9999-12-24"}
