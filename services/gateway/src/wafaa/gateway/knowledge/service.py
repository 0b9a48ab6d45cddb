"""The tenant's knowledge documents: uploads within limits, status from ingestion, search as the bot does.

Events are returned to the entrypoint, which publishes them once the transaction has committed:
ingestion's status events must never reach the gateway before the document row exists.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any
from uuid import UUID, uuid4

from sqlalchemy.ext.asyncio import AsyncSession

from wafaa.common.db.cursor import decode_cursor, encode_cursor
from wafaa.common.events import (
    DocumentDeleted,
    DocumentDeletedPayload,
    DocumentReprocessRequested,
    DocumentStatusChanged,
    DocumentUploaded,
    DocumentUploadedPayload,
    Event,
    utcnow,
)
from wafaa.common.knowledge import VectorStore
from wafaa.common.providers import Embedder
from wafaa.gateway.audit import service as audit
from wafaa.gateway.audit.service import Actor
from wafaa.gateway.errors import ApiError
from wafaa.gateway.knowledge.files import DetectedType, FileStore, UnsupportedFileError, detect_type, safe_filename
from wafaa.gateway.knowledge.models import KnowledgeDocument
from wafaa.gateway.knowledge.repository import KnowledgeDocumentRepository
from wafaa.gateway.knowledge.schemas import (
    KnowledgeChunkPage,
    KnowledgeChunkRead,
    KnowledgeDocumentFilter,
    KnowledgeDocumentMetadata,
    KnowledgeDocumentPage,
    KnowledgeDocumentRead,
    KnowledgeDocumentRef,
    KnowledgeSearchHit,
    KnowledgeSearchRequest,
    KnowledgeSearchResult,
)
from wafaa.gateway.tenants.repository import TenantRowRepository
from wafaa.gateway.tenants.schemas import RetrievalSettings, TenantSettings

_COPY_CHUNK = 1024 * 1024
_TERMINAL = ("ready", "failed")


@dataclass(frozen=True)
class UploadLimits:
    """Where files go and how much a request and a tenant may store."""

    store: FileStore
    max_file_bytes: int
    max_files: int
    max_tenant_bytes: int


@dataclass
class ReceivedFile:
    """An upload copied to a temporary file next to its final place, measured and typed."""

    path: Path
    filename: str
    size: int
    sha256: str
    detected: DetectedType


@dataclass
class Outcome:
    """What a change produced: the rows to answer, and the events to publish after commit."""

    documents: list[KnowledgeDocument] = field(default_factory=list)
    events: list[Event[Any]] = field(default_factory=list)
    remove_paths: list[str] = field(default_factory=list)


def not_found() -> ApiError:
    return ApiError(404, "not_found", "Document not found.")


def file_too_large(limits: UploadLimits) -> ApiError:
    mb = limits.max_file_bytes // 2**20
    return ApiError(413, "file_too_large", f"A file is larger than the limit of {mb} MB.")


def too_many_files(limits: UploadLimits) -> ApiError:
    return ApiError(413, "too_many_files", f"Upload at most {limits.max_files} files per request.")


# --- Receiving files -------------------------------------------------------------------------


def _copy_measured(source: IO[bytes], target: Path, max_bytes: int) -> tuple[int, str] | None:
    """Copy while hashing; None as soon as the file is over the limit."""
    digest = hashlib.sha256()
    size = 0
    with target.open("wb") as out:
        while chunk := source.read(_COPY_CHUNK):
            size += len(chunk)
            if size > max_bytes:
                return None
            digest.update(chunk)
            out.write(chunk)
    return size, digest.hexdigest()


def _receive_sync(source: IO[bytes], filename: str | None, limits: UploadLimits) -> ReceivedFile:
    incoming = limits.store.root / ".incoming"
    incoming.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(dir=incoming, prefix="upload-")
    os.close(handle)
    path = Path(name)
    try:
        measured = _copy_measured(source, path, limits.max_file_bytes)
        if measured is None:
            raise file_too_large(limits)
        size, sha256 = measured
        clean_name = safe_filename(filename)
        try:
            detected = detect_type(path, clean_name)
        except UnsupportedFileError as exc:
            code = "empty_file" if size == 0 or "empty" in str(exc) else "unsupported_type"
            raise ApiError(
                415 if code == "unsupported_type" else 422, code, str(exc), {"filename": clean_name}
            ) from exc
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return ReceivedFile(path, clean_name, size, sha256, detected)


async def receive_files(sources: Sequence[tuple[IO[bytes], str | None]], limits: UploadLimits) -> list[ReceivedFile]:
    """Every upload measured, hashed and typed by content; all of them or none (4xx on the first bad one)."""
    if not sources:
        raise ApiError(422, "no_files", "Send at least one file in the `files` field.")
    if len(sources) > limits.max_files:
        raise too_many_files(limits)
    received: list[ReceivedFile] = []
    try:
        for source, filename in sources:
            received.append(await asyncio.to_thread(_receive_sync, source, filename, limits))
    except BaseException:
        discard(received)
        raise
    return received


def discard(files: Sequence[ReceivedFile]) -> None:
    """Remove temporary files that will not be stored."""
    for f in files:
        f.path.unlink(missing_ok=True)


# --- Changes ---------------------------------------------------------------------------------


async def _retrieval_settings(session: AsyncSession, tenant_id: UUID, *, lock: bool = False) -> RetrievalSettings:
    tenant = await TenantRowRepository(session, tenant_id).current(for_update=lock)
    return TenantSettings(**((tenant.settings if tenant else None) or {})).retrieval


def _payload(document: KnowledgeDocument) -> DocumentUploadedPayload:
    return DocumentUploadedPayload(
        document_id=document.id,
        storage_path=document.storage_path,
        content_type=document.content_type,
        title=document.title,
        chunk_size=document.chunk_size,
        chunk_overlap=document.chunk_overlap,
        language=document.language,
        tags=list(document.tags),
        valid_from=document.valid_from,
        valid_to=document.valid_to,
        generation=document.generation,
    )


def _stem(filename: str) -> str:
    stem, dot, _ = filename.rpartition(".")
    return (stem if dot and stem else filename)[:300]


async def upload_documents(
    session: AsyncSession,
    tenant_id: UUID,
    user_id: UUID | None,
    files: list[ReceivedFile],
    metadata: list[KnowledgeDocumentMetadata],
    limits: UploadLimits,
    actor: Actor,
) -> Outcome:
    """Rows, stored files and audit rows for received files; their DocumentUploaded events to publish."""
    if len(metadata) not in (0, 1, len(files)):
        raise ApiError(422, "invalid_metadata", "Send one metadata object, or one per file in the same order.")
    # The tenant row lock serialises a tenant's uploads, so two requests cannot both pass the quota.
    retrieval = await _retrieval_settings(session, tenant_id, lock=True)
    repo = KnowledgeDocumentRepository(session, tenant_id)
    used = await repo.total_bytes()
    incoming = sum(f.size for f in files)
    if used + incoming > limits.max_tenant_bytes:
        raise ApiError(
            409,
            "storage_quota_exceeded",
            f"Your knowledge base would use {(used + incoming) / 2**20:.1f} MB, over your limit of "
            f"{limits.max_tenant_bytes / 2**20:.0f} MB. Delete documents or upload fewer.",
            {"used_bytes": used, "incoming_bytes": incoming, "limit_bytes": limits.max_tenant_bytes},
        )
    outcome = Outcome()
    for index, received in enumerate(files):
        meta = metadata[index] if len(metadata) == len(files) else (metadata[0] if metadata else None)
        meta = meta or KnowledgeDocumentMetadata()
        document_id = uuid4()
        document = KnowledgeDocument(
            id=document_id,
            tenant_id=tenant_id,
            title=meta.title or _stem(received.filename),
            original_filename=received.filename,
            file_type=received.detected.file_type,
            content_type=received.detected.content_type,
            size_bytes=received.size,
            sha256=received.sha256,
            storage_path=limits.store.storage_path(tenant_id, document_id),
            status="queued",
            progress=0.0,
            generation=1,
            queued_at=utcnow(),
            tags=meta.tags,
            language=meta.language,
            valid_from=meta.valid_from,
            valid_to=meta.valid_to,
            chunk_size=retrieval.chunk_size,
            chunk_overlap=retrieval.chunk_overlap,
            uploaded_by=user_id,
        )
        await repo.insert(document)
        await audit.record(
            session,
            tenant_id,
            actor,
            "knowledge.document_uploaded",
            "knowledge_document",
            document_id,
            {
                "filename": received.filename,
                "file_type": received.detected.file_type,
                "size_bytes": received.size,
                "sha256": received.sha256,
            },
        )
        await asyncio.to_thread(limits.store.save, tenant_id, document_id, received.path)
        outcome.documents.append(document)
        outcome.events.append(DocumentUploaded(tenant_id=tenant_id, payload=_payload(document)))
    return outcome


async def reprocess_document(session: AsyncSession, tenant_id: UUID, document_id: UUID, actor: Actor | None) -> Outcome:
    """Queue a document again with the tenant's current chunk settings (a new generation)."""
    retrieval = await _retrieval_settings(session, tenant_id)
    repo = KnowledgeDocumentRepository(session, tenant_id)
    document = await repo.get_for_update(document_id)
    if document is None:
        raise not_found()
    before = {"chunk_size": document.chunk_size, "chunk_overlap": document.chunk_overlap}
    document.generation += 1
    document.status = "queued"
    document.progress = 0.0
    document.error_reason = None
    document.queued_at = utcnow()
    document.processing_started_at = None
    document.processed_at = None
    document.duration_ms = None
    document.chunk_size = retrieval.chunk_size
    document.chunk_overlap = retrieval.chunk_overlap
    await session.flush()
    if actor is not None:
        after = {"chunk_size": document.chunk_size, "chunk_overlap": document.chunk_overlap}
        await audit.record(
            session,
            tenant_id,
            actor,
            "knowledge.document_reprocessed",
            "knowledge_document",
            document.id,
            {"generation": document.generation, "from": before, "to": after},
        )
    event = DocumentReprocessRequested(tenant_id=tenant_id, payload=_payload(document))
    return Outcome(documents=[document], events=[event])


async def delete_document(session: AsyncSession, tenant_id: UUID, document_id: UUID, actor: Actor) -> Outcome:
    """Remove the row now; the file and the chunks go once the deletion has committed."""
    repo = KnowledgeDocumentRepository(session, tenant_id)
    document = await repo.get_for_update(document_id)
    if document is None:
        raise not_found()
    await repo.remove(document)
    await audit.record(
        session,
        tenant_id,
        actor,
        "knowledge.document_deleted",
        "knowledge_document",
        document.id,
        {"filename": document.original_filename, "title": document.title, "sha256": document.sha256},
    )
    event = DocumentDeleted(tenant_id=tenant_id, payload=DocumentDeletedPayload(document_id=document.id))
    return Outcome(events=[event], remove_paths=[document.storage_path])


async def reindex_tenant(session: AsyncSession, tenant_id: UUID) -> list[Event[Any]]:
    """Reprocess every document of a tenant (after changing EMBEDDING_PROVIDER); the events to publish."""
    events: list[Event[Any]] = []
    for document in await KnowledgeDocumentRepository(session, tenant_id).list_all():
        outcome = await reprocess_document(session, tenant_id, document.id, None)
        events.extend(outcome.events)
    if events:
        await audit.record(
            session,
            tenant_id,
            audit.SYSTEM,
            "knowledge.reindex_requested",
            "knowledge_base",
            None,
            {"documents": len(events)},
        )
    return events


async def apply_status(session: AsyncSession, event: DocumentStatusChanged) -> bool:
    """Ingestion's progress on a document; stale or out-of-order updates are ignored. True if applied."""
    p = event.payload
    document = await KnowledgeDocumentRepository(session, event.tenant_id).get_for_update(p.document_id)
    if document is None or (p.generation and p.generation != document.generation):
        return False  # deleted since, or an update of an earlier upload generation
    if document.status in _TERMINAL and p.status == "processing":
        return False  # a late or redelivered progress update never reopens a finished document
    if document.status == "processing" and p.status == "processing" and p.progress < document.progress:
        return False
    document.status = p.status
    document.progress = max(0.0, min(1.0, p.progress))
    if p.status == "processing":
        document.processing_started_at = document.processing_started_at or event.occurred_at
    else:
        document.progress = 1.0
        document.processed_at = event.occurred_at
        document.error_reason = p.reason if p.status == "failed" else None
        document.duration_ms = p.duration_ms
        if p.status == "ready":
            document.page_count = p.page_count
            document.chunk_count = p.chunk_count
        else:
            document.chunk_count = 0
    await session.flush()
    return True


# --- Reading ---------------------------------------------------------------------------------


async def list_documents(
    session: AsyncSession, tenant_id: UUID, filters: KnowledgeDocumentFilter, *, limit: int, cursor: str | None
) -> KnowledgeDocumentPage:
    """One page of the tenant's documents, newest first."""
    after = decode_cursor(cursor) if cursor else None
    rows = await KnowledgeDocumentRepository(session, tenant_id).search(filters, limit=limit + 1, after=after)
    page = list(rows[:limit])
    next_cursor = encode_cursor(page[-1].created_at, page[-1].id) if len(rows) > limit and page else None
    return KnowledgeDocumentPage(items=[KnowledgeDocumentRead.model_validate(r) for r in page], next_cursor=next_cursor)


async def get_document(session: AsyncSession, tenant_id: UUID, document_id: UUID) -> KnowledgeDocument:
    """A document of the tenant; another tenant's id is not found, like a missing one."""
    document = await KnowledgeDocumentRepository(session, tenant_id).get(document_id)
    if document is None:
        raise not_found()
    return document


async def list_chunks(
    session: AsyncSession, tenant_id: UUID, document_id: UUID, *, limit: int, offset: int
) -> KnowledgeChunkPage:
    """The document's chunks as indexed, in reading order."""
    await get_document(session, tenant_id, document_id)
    repo = KnowledgeDocumentRepository(session, tenant_id)
    chunks = await repo.chunks(document_id, limit=limit + 1, offset=offset)
    items = [
        KnowledgeChunkRead(
            chunk_id=c.chunk_id,
            ordinal=c.ordinal,
            text=c.text,
            location=c.location,
            embedding_provider=c.embedding_provider,
            embedding_model=c.embedding_model,
        )
        for c in chunks[:limit]
    ]
    return KnowledgeChunkPage(
        document_id=document_id, items=items, next_offset=offset + limit if len(chunks) > limit else None
    )


async def search(
    session: AsyncSession,
    tenant_id: UUID,
    request: KnowledgeSearchRequest,
    embedder: Embedder,
    store: VectorStore | None = None,
) -> KnowledgeSearchResult:
    """The chunks the bot would retrieve for a question, with the tenant's retrieval settings."""
    retrieval = await _retrieval_settings(session, tenant_id)
    top_k = request.top_k or retrieval.top_k
    min_score = retrieval.min_score if request.min_score is None else request.min_score
    (embedding,) = await embedder.embed([request.query])
    repo = KnowledgeDocumentRepository(session, tenant_id)
    hits = await repo.retrieve(
        embedding, request.query, top_k=top_k, min_score=min_score, model=embedder.model, store=store
    )
    documents = await repo.get_many(list({h.document_id for h in hits}))
    items = [
        KnowledgeSearchHit(
            chunk_id=h.chunk_id,
            document_id=h.document_id,
            text=h.text,
            location=h.location,
            score=h.score,
            similarity=h.similarity,
            text_rank=h.text_rank,
            document=KnowledgeDocumentRef.model_validate(documents[h.document_id])
            if h.document_id in documents
            else None,
        )
        for h in hits
    ]
    return KnowledgeSearchResult(
        query=request.query,
        top_k=top_k,
        min_score=min_score,
        embedding_provider=embedder.name,
        embedding_model=embedder.model,
        items=items,
    )
