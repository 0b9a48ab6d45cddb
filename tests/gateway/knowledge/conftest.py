"""Knowledge tests: a gateway whose uploads go to a temporary folder."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from redis.asyncio import Redis

from tests.fixtures.infrastructure import Infrastructure
from tests.fixtures.knowledge import knowledge_gateway
from tests.gateway.conftest import Gateway

pytestmark = pytest.mark.integration


@pytest.fixture
def uploads(tmp_path: Path) -> Path:
    folder = tmp_path / "uploads"
    folder.mkdir()
    return folder


@pytest_asyncio.fixture
async def kb(infra: Infrastructure, redis: Redis, uploads: Path) -> AsyncIterator[Gateway]:
    """A running gateway on an empty Redis, storing uploads under `uploads`."""
    async with knowledge_gateway(infra, uploads) as (app, client):
        yield Gateway(app, client)
