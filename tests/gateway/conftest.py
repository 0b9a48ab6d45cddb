"""Gateway tests: the app in-process against the session's real Postgres and Redis."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI
from redis.asyncio import Redis

from tests.fixtures.gateway import gateway_settings, running_gateway
from tests.fixtures.infrastructure import Infrastructure

pytestmark = pytest.mark.integration


@dataclass
class Gateway:
    app: FastAPI
    client: httpx.AsyncClient


@pytest_asyncio.fixture
async def gateway(infra: Infrastructure, redis: Redis) -> AsyncIterator[Gateway]:
    """A running gateway on an empty Redis (no throttle counters, no blocklist)."""
    async with running_gateway(gateway_settings(infra)) as (app, client):
        yield Gateway(app, client)
