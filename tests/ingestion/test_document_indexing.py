"""Indexing many documents at once: several stored per transaction, each exactly once, none held back by another."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.fixtures.ingestion import place_upload, uploaded
from wafaa.common.db import Database
from wafaa.common.events import DocumentStatusChanged, DocumentUploaded
from wafaa.common.knowledge import PgVectorStore
from wafaa.common.providers import HashEmbedder
from wafaa.ingestion.chunks.handlers import DocumentIndexing
from wafaa.ingestion.chunks.service import Indexer
from wafaa.ingestion.extraction.schemas import ExtractionLimits

pytestmark = [pytest.mark.integration]

GROUP = "ingestion"


class _Statuses:
    def __init__(self) -> None:
        self.events: list[DocumentStatusChanged] = []

    async def publish(self, event: DocumentStatusChanged) -> None:
        self.events.append(event)

    def final(self, document: uuid.UUID) -> dict[str, Any]:
        mine = [e.payload for e in self.events if e.payload.document_id == document]
        assert mine and mine[0].status == "processing", mine
        return mine[-1].model_dump()


class _FailingStore(PgVectorStore):
    """Refuses the vectors of one document, as an unreachable external store would."""

    def __init__(self, poison: uuid.UUID) -> None:
        self.poison = poison

    async def upsert(self, tenant_id: uuid.UUID, document_id: uuid.UUID, vectors: Sequence[Any]) -> None:
        if document_id == self.poison:
            raise ConnectionError("vector store unavailable")


def _indexing(
    app_engine: AsyncEngine, uploads: Path, store: PgVectorStore | None = None
) -> tuple[DocumentIndexing, _Statuses]:
    statuses = _Statuses()
    indexer = Indexer(
        embedder=HashEmbedder(),
        publish=statuses.publish,
        uploads_dir=uploads,
        limits=ExtractionLimits(),
        store=store or PgVectorStore(),
    )
    return DocumentIndexing(Database(app_engine), indexer, group=GROUP, consumer="tests"), statuses


def _documents(uploads: Path, tenant: uuid.UUID, count: int) -> list[DocumentUploaded]:
    events = []
    for n in range(count):
        doc = uuid.uuid4()
        path = place_upload(uploads, tenant, doc, f"Q{n}: Do you have parking?\n\nValet parking is free, {n}.".encode())
        events.append(uploaded(tenant, doc, path, "text/plain", title=f"faq {n}"))
    return events


async def _chunk_counts(admin_engine: AsyncEngine, tenant: uuid.UUID) -> dict[uuid.UUID, int]:
    async with admin_engine.connect() as conn:
        rows = await conn.execute(
            text("SELECT document_id, count(*) FROM ingestion.knowledge_chunks WHERE tenant_id = :t GROUP BY 1"),
            {"t": tenant},
        )
        return {r[0]: r[1] for r in rows}


async def _inbox(admin_engine: AsyncEngine, tenant: uuid.UUID) -> int:
    async with admin_engine.connect() as conn:
        found = await conn.execute(
            text("SELECT count(*) FROM ingestion.processed_events WHERE tenant_id = :t AND consumer_group = :g"),
            {"t": tenant, "g": GROUP},
        )
        return int(found.scalar_one())


async def test_documents_indexed_at_once_each_get_their_chunks_and_inbox_row_and_a_redelivery_changes_nothing(
    app_engine: AsyncEngine, admin_engine: AsyncEngine, tmp_path: Path
) -> None:
    indexing, statuses = _indexing(app_engine, tmp_path)
    tenant = uuid.uuid4()
    events = _documents(tmp_path, tenant, 40)
    missing = uuid.uuid4()
    events.append(uploaded(tenant, missing, f"{tenant}/{missing}/original", "text/plain"))
    try:
        await asyncio.gather(*(indexing.index(e) for e in events))
        assert await _chunk_counts(admin_engine, tenant) == {e.payload.document_id: 1 for e in events[:-1]}
        assert await _inbox(admin_engine, tenant) == len(events)
        assert all(statuses.final(e.payload.document_id)["status"] == "ready" for e in events[:-1])
        assert statuses.final(missing)["status"] == "failed" and "missing" in statuses.final(missing)["reason"]

        # a redelivery (the same events, to a process that never saw them) stores and announces nothing new
        again, late = _indexing(app_engine, tmp_path)
        await asyncio.gather(*(again.index(e) for e in events[:5]))
        await again.aclose()
        assert await _chunk_counts(admin_engine, tenant) == {e.payload.document_id: 1 for e in events[:-1]}
        assert await _inbox(admin_engine, tenant) == len(events)
        # only `processing` (which the gateway ignores once a document is finished), never a second `ready`
        assert {e.payload.status for e in late.events} == {"processing"}

        # and this process remembers what it applied: handed back by the reclaimer, it does no work at all
        before = len(statuses.events)
        await indexing.index(events[0])
        assert len(statuses.events) == before
    finally:
        await indexing.aclose()


async def test_a_document_whose_store_fails_is_retried_alone_and_the_others_of_its_transaction_commit(
    app_engine: AsyncEngine, admin_engine: AsyncEngine, tmp_path: Path
) -> None:
    tenant = uuid.uuid4()
    events = _documents(tmp_path, tenant, 12)
    poison = events[5].payload.document_id
    indexing, statuses = _indexing(app_engine, tmp_path, _FailingStore(poison))
    try:
        outcomes = await asyncio.gather(*(indexing.index(e) for e in events), return_exceptions=True)
    finally:
        await indexing.aclose()
    failed = [e.payload.document_id for e, o in zip(events, outcomes, strict=True) if isinstance(o, Exception)]
    assert failed == [poison]  # its handler raises: the entry stays pending and is retried
    counts = await _chunk_counts(admin_engine, tenant)
    assert counts == {e.payload.document_id: 1 for e in events if e.payload.document_id != poison}
    assert await _inbox(admin_engine, tenant) == len(events) - 1
    assert statuses.final(poison)["status"] == "processing"
    assert all(statuses.final(e.payload.document_id)["status"] == "ready" for e in events if e is not events[5])


async def test_the_same_event_delivered_twice_at_once_is_indexed_once(
    app_engine: AsyncEngine, admin_engine: AsyncEngine, tmp_path: Path
) -> None:
    indexing, statuses = _indexing(app_engine, tmp_path)
    tenant = uuid.uuid4()
    [event] = _documents(tmp_path, tenant, 1)
    try:
        await asyncio.gather(indexing.index(event), indexing.index(event))
    finally:
        await indexing.aclose()
    assert await _chunk_counts(admin_engine, tenant) == {event.payload.document_id: 1}
    assert [e.payload.status for e in statuses.events] == ["processing", "ready"]
