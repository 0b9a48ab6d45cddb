"""Through the API with the ingestion service as a process: the six eval files become searchable, then go."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.fixtures.gateway import create_tenant_with_owner, headers_for
from tests.fixtures.ingestion import EVAL, chunk_rows
from tests.fixtures.knowledge import KNOWLEDGE, upload, wait_until_finished
from tests.fixtures.waiting import eventually
from tests.gateway.conftest import Gateway

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

EVAL_FILES = ("menu.pdf", "faq.docx", "faq_ar.txt", "policies.txt", "branches.csv", "specials.json")
INGESTION = {"embedding_provider": "hash", "reclaim_idle_ms": 120_000, "extraction_timeout_seconds": 20}


async def chunks_of(kb: Gateway, headers: dict[str, str], doc_id: str) -> list[dict[str, Any]]:
    response = await kb.client.get(f"{KNOWLEDGE}/{doc_id}/chunks", params={"limit": 1000}, headers=headers)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def test_the_six_eval_files_become_ready_searchable_with_citations_and_deleting_removes_everything(
    kb: Gateway, start_service: Any, uploads: Path, admin_engine: AsyncEngine
) -> None:
    start_service("ingestion", uploads_dir=uploads, **INGESTION)
    owner = await create_tenant_with_owner(kb.app)
    headers = await headers_for(kb.client, owner)
    files = [(name, (EVAL / name).read_bytes()) for name in EVAL_FILES]
    response = await upload(kb.client, headers, files)
    assert response.status_code == 202, response.text
    ids = {d["original_filename"]: d["id"] for d in response.json()}
    assert list(ids) == list(EVAL_FILES)
    assert [d["file_type"] for d in response.json()] == ["pdf", "docx", "txt", "txt", "csv", "json"]

    for name, doc_id in ids.items():
        doc = await wait_until_finished(kb.client, headers, doc_id)
        assert doc["status"] == "ready", (name, doc)
        assert doc["chunk_count"] > 0 and doc["progress"] == 1.0 and doc["duration_ms"] is not None
        assert doc["error_reason"] is None and doc["processed_at"]
    listed = (await kb.client.get(KNOWLEDGE, params={"status": "ready"}, headers=headers)).json()["items"]
    assert len(listed) == 6

    menu = await chunks_of(kb, headers, ids["menu.pdf"])
    assert (await wait_until_finished(kb.client, headers, ids["menu.pdf"]))["page_count"] == 3
    assert {c["location"]["page"] for c in menu} == {1, 2, 3}
    assert any("COLD MEZZE" in c["location"].get("section", "") and "Hummus" in c["text"] for c in menu)
    assert all(c["embedding_provider"] == "hash" for c in menu)
    faq = await chunks_of(kb, headers, ids["faq.docx"])
    assert any(c["location"].get("section", "").startswith("Opening Hours > Q1.") for c in faq)
    branches = await chunks_of(kb, headers, ids["branches.csv"])
    assert [c["location"]["row"] for c in branches] == [1, 2, 3]
    arabic = await chunks_of(kb, headers, ids["faq_ar.txt"])
    assert any(c["location"].get("section", "").startswith("س1:") for c in arabic)
    policies = await chunks_of(kb, headers, ids["policies.txt"])
    assert any(c["location"].get("section") == "1. SCOPE" for c in policies)

    search = await kb.client.post(
        f"{KNOWLEDGE}/search", json={"query": "Do you have valet parking at Jumeirah?", "top_k": 5}, headers=headers
    )
    assert search.status_code == 200, search.text
    body = search.json()
    assert body["embedding_provider"] == "hash" and len(body["items"]) == 5
    assert body["items"][0]["score"] >= body["items"][-1]["score"]
    sources = [hit["document"]["original_filename"] for hit in body["items"]]
    assert "branches.csv" in sources
    hit = body["items"][sources.index("branches.csv")]
    assert hit["location"]["row"] in (1, 2, 3) and "valet" in hit["text"].lower()

    # Another tenant searching the same words finds nothing of this tenant's.
    other = await create_tenant_with_owner(kb.app)
    other_headers = await headers_for(kb.client, other)
    empty = await kb.client.post(f"{KNOWLEDGE}/search", json={"query": "valet parking"}, headers=other_headers)
    assert empty.status_code == 200 and empty.json()["items"] == []

    doc_id = ids["branches.csv"]
    assert (await kb.client.delete(f"{KNOWLEDGE}/{doc_id}", headers=headers)).status_code == 204
    assert not (uploads / str(owner.tenant_id) / doc_id).exists()
    assert (await kb.client.get(f"{KNOWLEDGE}/{doc_id}", headers=headers)).status_code == 404
    await eventually(lambda: chunk_rows(admin_engine, doc_id), lambda rows: rows == [], timeout=20)  # type: ignore[arg-type]
    again = await kb.client.post(f"{KNOWLEDGE}/search", json={"query": "valet parking"}, headers=headers)
    assert all(h["document_id"] != doc_id for h in again.json()["items"])


async def test_reprocess_after_a_settings_change_rechunks_with_the_new_size(
    kb: Gateway, start_service: Any, uploads: Path
) -> None:
    start_service("ingestion", uploads_dir=uploads, **INGESTION)
    owner = await create_tenant_with_owner(kb.app)
    headers = await headers_for(kb.client, owner)
    patch = {"retrieval": {"chunk_size": 2000, "chunk_overlap": 100}}
    assert (await kb.client.patch("/api/v1/tenants/me/settings", json=patch, headers=headers)).status_code == 200
    doc_id = (await upload(kb.client, headers, [("policies.txt", (EVAL / "policies.txt").read_bytes())])).json()[0][
        "id"
    ]
    large = await wait_until_finished(kb.client, headers, doc_id)
    assert large["status"] == "ready" and large["chunk_size"] == 2000

    patch = {"retrieval": {"chunk_size": 300, "chunk_overlap": 30}}
    assert (await kb.client.patch("/api/v1/tenants/me/settings", json=patch, headers=headers)).status_code == 200
    response = await kb.client.post(f"{KNOWLEDGE}/{doc_id}/reprocess", headers=headers)
    assert response.status_code == 202 and response.json()["chunk_size"] == 300
    small = await eventually(
        lambda: wait_until_finished(kb.client, headers, doc_id),
        lambda d: d["generation"] == 2 and d["status"] == "ready",
        timeout=60,
    )
    assert small["chunk_count"] > large["chunk_count"]
    chunks = await chunks_of(kb, headers, doc_id)
    assert len(chunks) == small["chunk_count"] and max(len(c["text"]) for c in chunks) <= 600


async def test_a_hostile_upload_ends_failed_with_a_reason_and_the_service_keeps_going(
    kb: Gateway, start_service: Any, uploads: Path
) -> None:
    start_service("ingestion", uploads_dir=uploads, **INGESTION)
    owner = await create_tenant_with_owner(kb.app)
    headers = await headers_for(kb.client, owner)
    truncated = (EVAL / "menu.pdf").read_bytes()[:600]
    deep = b"[" * 10_000 + b"]" * 10_000
    response = await upload(
        kb.client, headers, [("menu.pdf", truncated), ("deep.json", deep), ("ok.txt", b"Hummus 28 AED")]
    )
    assert response.status_code == 202
    truncated_doc, deep_doc, ok_doc = (d["id"] for d in response.json())
    for doc_id in (truncated_doc, deep_doc):
        doc = await wait_until_finished(kb.client, headers, doc_id)
        assert doc["status"] == "failed" and doc["error_reason"], doc
        assert await chunks_of(kb, headers, doc_id) == []
    assert (await wait_until_finished(kb.client, headers, ok_doc))["status"] == "ready"
