"""Keeping the index in step with the tenant's documents: extract → chunk → embed → store."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
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
from wafaa.ingestion.chunking.service import chunk_elements
from wafaa.ingestion.chunks.repository import ChunkRepository
from wafaa.ingestion.extraction.schemas import ExtractionError, ExtractionLimits
from wafaa.ingestion.extraction.service import extract_file

log = logging.getLogger(__name__)

Publish = Callable[[DocumentStatusChanged], Awaitable[None]]


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


async def _status(indexer: Indexer, tenant_id: UUID, document_id: UUID, generation: int, **fields: Any) -> None:
    payload = DocumentStatusChangedPayload(document_id=document_id, generation=generation, **fields)
    await indexer.publish(DocumentStatusChanged(tenant_id=tenant_id, payload=payload))


async def index_document(
    session: AsyncSession, indexer: Indexer, event: DocumentUploaded | DocumentReprocessRequested
) -> int:
    """Index (or re-index) one document; its chunks are replaced in the caller's single transaction.

    A file that cannot be indexed ends `failed` with a reason and leaves no chunks; the worker goes on.
    `ready` is published just before the transaction commits: if the commit fails, the event is
    redelivered and the document is indexed (and announced) again. With a vector store outside
    Postgres, the document's old vectors are deleted first and the new ones upserted before the
    commit; search only returns vectors whose rows are committed, so the swap still shows all at once.
    A store error raises: the transaction rolls back and the event is retried.
    """
    started = time.monotonic()
    p = event.payload
    tenant, doc, generation = event.tenant_id, p.document_id, p.generation
    repo = ChunkRepository(session, tenant)
    await _status(indexer, tenant, doc, generation, status="processing", progress=0.0)
    try:
        extracted = await extract_file(indexer.uploads_dir, p.storage_path, p.content_type, indexer.limits)
        chunks = chunk_elements(extracted.elements, p.chunk_size, p.chunk_overlap)
        if not chunks:
            raise ExtractionError("the file has no text to index")
        if len(chunks) > indexer.max_chunks:
            raise ExtractionError(f"the document makes {len(chunks)} chunks, over the limit of {indexer.max_chunks}")
    except ExtractionError as exc:
        await indexer.store.delete_document(tenant, doc)
        await repo.delete_document(doc)
        await _status(indexer, tenant, doc, generation, status="failed", reason=str(exc), progress=1.0)
        log.info("document failed", extra={"document_id": str(doc), "reason": str(exc)})
        return 0
    step = max(indexer.batch_size, 1)
    if len(chunks) > step:  # several model calls to come: say the text is out (one call: ready follows)
        await _status(indexer, tenant, doc, generation, status="processing", progress=0.2)
    vectors: list[list[float]] = []
    next_report = 0.4
    for start in range(0, len(chunks), step):
        vectors.extend(await indexer.embedder.embed([c.text for c in chunks[start : start + step]]))
        progress = 0.2 + 0.7 * len(vectors) / len(chunks)
        if progress >= next_report and len(vectors) < len(chunks):
            await _status(indexer, tenant, doc, generation, status="processing", progress=round(progress, 2))
            next_report = progress + 0.2
    in_rows = indexer.store.vectors_in_rows
    chunk_ids = [uuid4() for _ in chunks]
    rows = [
        {
            "id": chunk_id,
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
        for ordinal, (chunk_id, chunk, vector) in enumerate(zip(chunk_ids, chunks, vectors, strict=True))
    ]
    await indexer.store.delete_document(tenant, doc)
    await repo.replace_document(doc, rows)
    await session.flush()
    await indexer.store.upsert(
        tenant,
        doc,
        [
            ChunkVector(chunk_id, ordinal, vector, indexer.embedder.model, p.valid_to)
            for ordinal, (chunk_id, vector) in enumerate(zip(chunk_ids, vectors, strict=True))
        ],
    )
    await _status(
        indexer,
        tenant,
        doc,
        generation,
        status="ready",
        progress=1.0,
        page_count=extracted.page_count,
        chunk_count=len(rows),
        duration_ms=int((time.monotonic() - started) * 1000),
    )
    return len(rows)


async def forget_document(session: AsyncSession, store: VectorStore, event: DocumentDeleted) -> int:
    """A deleted document's chunks and vectors leave the index (a store error raises: the event is retried)."""
    await store.delete_document(event.tenant_id, event.payload.document_id)
    return await ChunkRepository(session, event.tenant_id).delete_document(event.payload.document_id)
