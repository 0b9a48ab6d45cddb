"""`wafaa knowledge reindex`: every document of a tenant (or of all tenants) is queued again."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import pytest
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.fixtures.gateway import audit_rows, create_tenant_with_owner, headers_for
from tests.fixtures.infrastructure import Infrastructure
from tests.fixtures.knowledge import document, upload
from tests.fixtures.streams import stream_events
from tests.gateway.conftest import Gateway

pytestmark = pytest.mark.integration


def run_reindex(infra: Infrastructure, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": infra.app_url, "REDIS_URL": infra.redis_url, "LOG_FORMAT": "text"}
    return subprocess.run(
        [sys.executable, "-m", "wafaa.gateway.cli", "knowledge", "reindex", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


async def test_reindex_queues_every_document_of_one_tenant_with_a_new_generation(
    kb: Gateway, infra: Infrastructure, redis: Redis, admin_engine: AsyncEngine
) -> None:
    owner = await create_tenant_with_owner(kb.app)
    headers = await headers_for(kb.client, owner)
    docs = (await upload(kb.client, headers, [("a.txt", b"hummus"), ("b.txt", b"falafel")])).json()
    other = await create_tenant_with_owner(kb.app)
    other_headers = await headers_for(kb.client, other)
    other_doc = (await upload(kb.client, other_headers, [("c.txt", b"tabbouleh")])).json()[0]

    result = run_reindex(infra, "--tenant", str(owner.tenant_id))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"tenants": 1, "documents": 2}
    events = await stream_events(redis, "wafaa.document.reprocess_requested")
    assert sorted(e["payload"]["document_id"] for e in events) == sorted(d["id"] for d in docs)
    assert {(e["tenant_id"], e["payload"]["generation"]) for e in events} == {(str(owner.tenant_id), 2)}
    for doc in docs:
        assert (await document(kb.client, headers, doc["id"]))["generation"] == 2
    assert (await document(kb.client, other_headers, other_doc["id"]))["generation"] == 1
    row = (await audit_rows(admin_engine, owner.tenant_id, "knowledge.reindex_requested"))[0]
    assert (row["actor_type"], row["changes"]) == ("system", {"documents": 2})


async def test_reindex_all_covers_every_tenant_with_documents(kb: Gateway, infra: Infrastructure, redis: Redis) -> None:
    tenants: list[Any] = []
    for name in ("one", "two"):
        owner = await create_tenant_with_owner(kb.app, name)
        headers = await headers_for(kb.client, owner)
        await upload(kb.client, headers, [(f"{name}.txt", name.encode())])
        tenants.append(owner.tenant_id)
    result = run_reindex(infra, "--all")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["tenants"] >= 2 and summary["documents"] >= 2
    events = await stream_events(redis, "wafaa.document.reprocess_requested")
    assert {str(t) for t in tenants} <= {e["tenant_id"] for e in events}


def test_reindex_needs_a_tenant_or_all(infra: Infrastructure) -> None:
    result = run_reindex(infra)
    assert result.returncode == 2 and "--tenant" in result.stderr
