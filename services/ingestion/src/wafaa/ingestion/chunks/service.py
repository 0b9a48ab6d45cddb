"""Keeping the index in step with the tenant's documents: extract → chunk → embed → store."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

from sqlalchemy.ext.asyncio import AsyncSession

from wafaa.common.events import (
    DocumentDeleted,
    DocumentReprocessRequested,
    DocumentStatusChanged,
    DocumentStatusChangedPayload,
    DocumentUploaded,
)
from wafaa.common.knowledge.vectors import ChunkVector, PgVectorStore, VectorStore
from wafaa.common.providers import Embedder
from wafaa.ingestion.chunking.service import Chunk, chunk_elements
from wafaa.ingestion.chunks.repository import ChunkRepository
from wafaa.ingestion.extraction.schemas import ExtractionError, ExtractionLimits
from wafaa.ingestion.extraction.service import extract_file

log = logging.getLogger(__name__)

Publish = Callable[[DocumentStatusChanged], Awaitable[None]]
IndexingEvent = DocumentUploaded | DocumentReprocessRequested


@dataclass
class Indexer:
    """What indexing needs, wired once in `main.py`."""

    embedder: Embedder
    publish: Publish
    uploads_dir: Path
    limits: ExtractionLimits
    batch_size: int = 64
    max_chunks: int = 50_000
    store: VectorStore = field(default_factory=PgVectorStore)


def _status_event(event: IndexingEvent, **fields: Any) -> DocumentStatusChanged:
    p = event.payload
    payload = DocumentStatusChangedPayload(document_id=p.document_id, generation=p.generation, **fields)
    return DocumentStatusChanged(tenant_id=event.tenant_id, payload=payload)


@dataclass
class PreparedDocument:
    """A document extracted, chunked and embedded (or the reason it cannot be), not yet stored."""

    event: IndexingEvent
    started: float
    chunks: list[Chunk] = field(default_factory=list)
    vectors: list[list[float]] = field(default_factory=list)
    page_count: int | None = None
    reason: str | None = None

    @property
    def document_id(self) -> UUID:
        return self.event.payload.document_id


async def prepare_document(indexer: Indexer, event: IndexingEvent) -> PreparedDocument:
    """Extract, chunk and embed one document; nothing is stored, so no transaction is needed.

    A file that cannot be indexed comes back with its reason (`store_documents` ends it `failed`).
    """
    prepared = PreparedDocument(event, started=time.monotonic())
    p = event.payload
    await indexer.publish(_status_event(event, status="processing", progress=0.0))
    try:
        extracted = await extract_file(indexer.uploads_dir, p.storage_path, p.content_type, indexer.limits)
        chunks = chunk_elements(extracted.elements, p.chunk_size, p.chunk_overlap)
        if not chunks:
            raise ExtractionError("the file has no text to index")
        if len(chunks) > indexer.max_chunks:
            raise ExtractionError(f"the document makes {len(chunks)} chunks, over the limit of {indexer.max_chunks}")
    except ExtractionError as exc:
        prepared.reason = str(exc)
        return prepared
    step = max(indexer.batch_size, 1)
    if len(chunks) > step:  # several model calls to come: say the text is out (one call: ready follows)
        await indexer.publish(_status_event(event, status="processing", progress=0.2))
    vectors: list[list[float]] = []
    next_report = 0.4
    for start in range(0, len(chunks), step):
        vectors.extend(await indexer.embedder.embed([c.text for c in chunks[start : start + step]]))
        progress = 0.2 + 0.7 * len(vectors) / len(chunks)
        if progress >= next_report and len(vectors) < len(chunks):
            await indexer.publish(_status_event(event, status="processing", progress=round(progress, 2)))
            next_report = progress + 0.2
    prepared.chunks, prepared.vectors, prepared.page_count = chunks, vectors, extracted.page_count
    return prepared


async def store_documents(session: AsyncSession, indexer: Indexer, documents: Sequence[PreparedDocument]) -> list[int]:
    """Replace the chunks of prepared documents of one tenant in the caller's transaction; their chunk counts.

    Each document's old chunks go and its new ones come in the same transaction, so search sees the
    swap all at once; a failed one keeps no chunks. `ready` (or `failed`) is published just before the
    transaction commits: if the commit fails, the event is redelivered and the document is indexed
    (and announced) again. With a vector store outside Postgres, a document's old vectors are deleted
    first and the new ones upserted before the commit; search only returns vectors whose rows are
    committed. A store error raises: the transaction rolls back and the events are retried.
    """
    if not documents:
        return []
    tenant = documents[0].event.tenant_id
    if any(d.event.tenant_id != tenant for d in documents):
        raise ValueError("documents of several tenants in one transaction")
    in_rows = indexer.store.vectors_in_rows
    rows: list[dict[str, Any]] = []
    chunk_ids: dict[UUID, list[UUID]] = {}
    for document in documents:
        await indexer.store.delete_document(tenant, document.document_id)
        if document.reason is not None:
            continue
        p = document.event.payload
        ids = chunk_ids[document.document_id] = [uuid4() for _ in document.chunks]
        rows.extend(
            {
                "id": chunk_id,
                "document_id": document.document_id,
                "ordinal": ordinal,
                "text": chunk.text,
                "location": chunk.location,
                "embedding": vector if in_rows else None,
                "embedding_provider": indexer.embedder.name,
                "embedding_model": indexer.embedder.model,
                "title": p.title,
                "tags": list(p.tags),
                "valid_from": p.valid_from,
                "valid_to": p.valid_to,
            }
            for ordinal, (chunk_id, chunk, vector) in enumerate(
                zip(ids, document.chunks, document.vectors, strict=True)
            )
        )
    await ChunkRepository(session, tenant).replace_documents([d.document_id for d in documents], rows)
    await session.flush()
    counts: list[int] = []
    statuses: list[DocumentStatusChanged] = []
    for document in documents:
        p = document.event.payload
        if document.reason is not None:
            counts.append(0)
            statuses.append(_status_event(document.event, status="failed", reason=document.reason, progress=1.0))
            log.info("document failed", extra={"document_id": str(document.document_id), "reason": document.reason})
            continue
        ids = chunk_ids[document.document_id]
        await indexer.store.upsert(
            tenant,
            document.document_id,
            [
                ChunkVector(chunk_id, ordinal, vector, indexer.embedder.model, p.valid_to)
                for ordinal, (chunk_id, vector) in enumerate(zip(ids, document.vectors, strict=True))
            ],
        )
        counts.append(len(ids))
        statuses.append(
            _status_event(
                document.event,
                status="ready",
                progress=1.0,
                page_count=document.page_count,
                chunk_count=len(ids),
                duration_ms=int((time.monotonic() - document.started) * 1000),
            )
        )
    # At once (`main.py` wires a publisher that sends concurrent statuses in one round trip).
    await asyncio.gather(*(indexer.publish(status) for status in statuses))
    return counts


async def index_document(session: AsyncSession, indexer: Indexer, event: IndexingEvent) -> int:
    """Index (or re-index) one document in the caller's transaction: `prepare_document`, then `store_documents`."""
    [count] = await store_documents(session, indexer, [await prepare_document(indexer, event)])
    return count


async def forget_document(session: AsyncSession, store: VectorStore, event: DocumentDeleted) -> int:
    """A deleted document's chunks and vectors leave the index (a store error raises: the event is retried)."""
    await store.delete_document(event.tenant_id, event.payload.document_id)
    return await ChunkRepository(session, event.tenant_id).delete_document(event.payload.document_id)
