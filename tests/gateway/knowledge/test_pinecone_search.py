"""The knowledge search API with VECTOR_DB_PROVIDER=pinecone: upload, ingestion as a process, search, delete."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fixtures.fake_pinecone import API_KEY, DATA_PLANE, FakePinecone
from tests.fixtures.gateway import create_tenant_with_owner, headers_for
from tests.fixtures.infrastructure import Infrastructure
from tests.fixtures.ingestion import EVAL
from tests.fixtures.knowledge import KNOWLEDGE, knowledge_gateway, upload, wait_until_finished
from tests.fixtures.waiting import eventually

pytestmark = [pytest.mark.e2e, pytest.mark.integration]


async def test_the_bots_search_finds_chunks_by_their_pinecone_vectors_and_words_and_loses_them_on_delete(
    infra: Infrastructure, start_service: Any, uploads: Path, fake_pinecone: FakePinecone
) -> None:
    pinecone = {
        "vector_db_provider": "pinecone",
        "pinecone_index_host": fake_pinecone.host,
        "pinecone_api_key": API_KEY,
    }
    start_service("ingestion", uploads_dir=uploads, embedding_provider="hash", reclaim_idle_ms=120_000, **pinecone)
    async with knowledge_gateway(infra, uploads, **pinecone) as (app, client):
        owner = await create_tenant_with_owner(app)
        headers = await headers_for(client, owner)
        files = [(name, (EVAL / name).read_bytes()) for name in ("branches.csv", "policies.txt")]
        ids = {d["original_filename"]: d["id"] for d in (await upload(client, headers, files)).json()}
        for doc_id in ids.values():
            assert (await wait_until_finished(client, headers, doc_id))["status"] == "ready"
        namespace = str(owner.tenant_id)
        assert {vid.split("#")[0] for vid in fake_pinecone.ids(namespace)} == set(ids.values())

        query = {"query": "Do you have valet parking at Jumeirah?", "top_k": 5}
        found = await client.post(f"{KNOWLEDGE}/search", json=query, headers=headers)
        assert found.status_code == 200, found.text
        items = found.json()["items"]
        assert items[0]["document"]["original_filename"] == "branches.csv"
        assert "valet" in items[0]["text"].lower()
        assert items[0]["similarity"] is not None and items[0]["text_rank"] is not None
        assert [c.body["namespace"] for c in fake_pinecone.calls("/query")] == [namespace]

        assert (await client.delete(f"{KNOWLEDGE}/{ids['branches.csv']}", headers=headers)).status_code == 204
        left = await eventually(
            lambda: _search(client, headers, query),
            lambda hits: all(h["document_id"] == ids["policies.txt"] for h in hits),
            timeout=20,
        )
        assert left and not any(vid.startswith(f"{ids['branches.csv']}#") for vid in fake_pinecone.ids(namespace))

    assert {r.path for r in fake_pinecone.requests} <= DATA_PLANE


async def _search(client: httpx.AsyncClient, headers: dict[str, str], query: dict[str, Any]) -> list[dict[str, Any]]:
    response = await client.post(f"{KNOWLEDGE}/search", json=query, headers=headers)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items
