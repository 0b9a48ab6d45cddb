"""The knowledge base API (owners and admins): upload, list, inspect, download, reprocess, delete, search."""

from __future__ import annotations

import json
import logging
from typing import Annotated, Any
from urllib.parse import quote
from uuid import UUID

from fastapi import APIRouter, BackgroundTasks, Depends, File, Form, Query, Request, UploadFile, status
from fastapi.responses import FileResponse, JSONResponse
from pydantic import TypeAdapter, ValidationError
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from wafaa.common.events import Event
from wafaa.common.knowledge import VectorStore
from wafaa.common.messaging import EventPublisher
from wafaa.common.providers import Embedder
from wafaa.gateway.auth.dependencies import Manager
from wafaa.gateway.errors import ApiError
from wafaa.gateway.knowledge import service
from wafaa.gateway.knowledge.files import CONTENT_TYPES, FileStore, ascii_filename
from wafaa.gateway.knowledge.schemas import (
    DocumentStatus,
    FileType,
    KnowledgeChunkPage,
    KnowledgeDocumentFilter,
    KnowledgeDocumentMetadata,
    KnowledgeDocumentPage,
    KnowledgeDocumentRead,
    KnowledgeSearchRequest,
    KnowledgeSearchResult,
)
from wafaa.gateway.knowledge.service import Outcome, UploadLimits

logger = logging.getLogger(__name__)
PREFIX = "/api/v1/knowledge"
router = APIRouter(prefix=PREFIX, tags=["knowledge"])
ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "Not authenticated"},
    403: {"description": "Role not allowed"},
}
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "No such document"}}
# A download answers the original bytes with the type detected at upload (a JSON file too: no schema).
DOWNLOAD_TYPES: dict[str, Any] = {media_type: {} for media_type in CONTENT_TYPES.values()}
_METADATA = TypeAdapter(KnowledgeDocumentMetadata | list[KnowledgeDocumentMetadata])


def get_limits(request: Request) -> UploadLimits:
    """Upload limits and the file store, from the settings."""
    limits: UploadLimits = request.app.state.upload_limits
    return limits


def get_embedder(request: Request) -> Embedder:
    """The query embedder (the same provider and model as ingestion's)."""
    embedder: Embedder = request.app.state.embedder
    return embedder


def get_vector_store(request: Request) -> VectorStore:
    """Where the chunk vectors live (the same VECTOR_DB_PROVIDER as ingestion's)."""
    store: VectorStore = request.app.state.vector_store
    return store


Limits = Annotated[UploadLimits, Depends(get_limits)]
QueryEmbedder = Annotated[Embedder, Depends(get_embedder)]
Vectors = Annotated[VectorStore, Depends(get_vector_store)]


def _publish_after_commit(request: Request, background: BackgroundTasks, outcome: Outcome) -> None:
    """Events and file removals run once the transaction has committed (after the response)."""
    publisher: EventPublisher = request.app.state.publisher
    store: FileStore = request.app.state.upload_limits.store
    request_id = getattr(request.state, "request_id", None)

    async def after_commit(events: list[Event[Any]], paths: list[str]) -> None:
        for path in paths:
            store.remove(path)
        try:
            await publisher.publish_many(events, request_id=request_id)
        except Exception:
            logger.exception("could not publish knowledge events; POST /knowledge/{id}/reprocess recovers")

    background.add_task(after_commit, list(outcome.events), list(outcome.remove_paths))


def _parse_metadata(raw: str | None) -> list[KnowledgeDocumentMetadata]:
    if raw is None or not raw.strip():
        return []
    try:
        parsed = _METADATA.validate_python(json.loads(raw))
    except (ValueError, ValidationError, RecursionError) as exc:
        details = exc.errors(include_url=False, include_context=False) if isinstance(exc, ValidationError) else None
        raise ApiError(422, "invalid_metadata", "`metadata` must be JSON metadata for the files.", details) from exc
    return parsed if isinstance(parsed, list) else [parsed]


@router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    responses={
        **ERRORS,
        409: {"description": "Tenant storage quota exceeded (`storage_quota_exceeded`)"},
        413: {"description": "A file or the request is too large, or too many files"},
        415: {"description": "Not a PDF, DOCX, TXT, MD, CSV, JSON or HTML file (detected by content)"},
        422: {"description": "Empty file or invalid metadata"},
    },
)
async def upload_documents(
    request: Request,
    background: BackgroundTasks,
    principal: Manager,
    limits: Limits,
    files: Annotated[list[UploadFile], File(description="One or several documents.")],
    metadata: Annotated[
        str | None,
        Form(
            description="Optional JSON: one object for every file, or a list of objects in the files' order, "
            'with `title`, `tags`, `language`, `valid_from`, `valid_to`. Example: `{"tags": ["menu"]}`.'
        ),
    ] = None,
) -> list[KnowledgeDocumentRead]:
    """Upload documents; each is stored, queued for indexing, and answered with its id and status."""
    meta = _parse_metadata(metadata)
    received = await service.receive_files([(f.file, f.filename) for f in files], limits)
    try:
        outcome = await service.upload_documents(
            principal.session, principal.tenant_id, principal.user.id, received, meta, limits, principal.actor
        )
    finally:
        service.discard(received)
    _publish_after_commit(request, background, outcome)
    return [KnowledgeDocumentRead.model_validate(d) for d in outcome.documents]


def _filters(
    status: DocumentStatus | None = None,
    type: Annotated[FileType | None, Query(description="Detected file type")] = None,
    tag: Annotated[str | None, Query(max_length=50)] = None,
    text: Annotated[str | None, Query(max_length=200, description="In the title or file name")] = None,
) -> KnowledgeDocumentFilter:
    return KnowledgeDocumentFilter(status=status, file_type=type, tag=tag, text=text)


@router.get("", responses=ERRORS)
async def list_documents(
    principal: Manager,
    filters: Annotated[KnowledgeDocumentFilter, Depends(_filters)],
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> KnowledgeDocumentPage:
    """Your documents, newest first, filtered, one page at a time."""
    return await service.list_documents(principal.session, principal.tenant_id, filters, limit=limit, cursor=cursor)


@router.post("/search", responses=ERRORS)
async def search_knowledge(
    body: KnowledgeSearchRequest, principal: Manager, embedder: QueryEmbedder, store: Vectors
) -> KnowledgeSearchResult:
    """The chunks the bot would retrieve for a question, with scores and their documents."""
    return await service.search(principal.session, principal.tenant_id, body, embedder, store)


@router.get("/{document_id}", responses={**ERRORS, **NOT_FOUND})
async def get_document(document_id: UUID, principal: Manager) -> KnowledgeDocumentRead:
    """A document's status, progress, failure reason, counts and timings."""
    document = await service.get_document(principal.session, principal.tenant_id, document_id)
    return KnowledgeDocumentRead.model_validate(document)


@router.get("/{document_id}/chunks", responses={**ERRORS, **NOT_FOUND})
async def list_chunks(
    document_id: UUID,
    principal: Manager,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> KnowledgeChunkPage:
    """The document's chunks as indexed, with their citation locations."""
    return await service.list_chunks(principal.session, principal.tenant_id, document_id, limit=limit, offset=offset)


@router.get(
    "/{document_id}/download",
    response_class=FileResponse,
    responses={**ERRORS, **NOT_FOUND, 200: {"description": "The original file", "content": DOWNLOAD_TYPES}},
)
async def download_document(document_id: UUID, principal: Manager, limits: Limits) -> FileResponse:
    """The original file as uploaded, named with its (sanitised) original name."""
    document = await service.get_document(principal.session, principal.tenant_id, document_id)
    path = limits.store.absolute(document.storage_path)
    if not path.is_file():
        raise ApiError(404, "file_missing", "The stored file of this document is missing.")
    name = document.original_filename
    disposition = f"attachment; filename=\"{ascii_filename(name)}\"; filename*=UTF-8''{quote(name, safe='')}"
    return FileResponse(
        path,
        media_type=document.content_type,
        headers={"Content-Disposition": disposition, "X-Content-Type-Options": "nosniff"},
    )


@router.post("/{document_id}/reprocess", status_code=status.HTTP_202_ACCEPTED, responses={**ERRORS, **NOT_FOUND})
async def reprocess_document(
    document_id: UUID, request: Request, background: BackgroundTasks, principal: Manager
) -> KnowledgeDocumentRead:
    """Index the document again with your current chunk settings."""
    outcome = await service.reprocess_document(principal.session, principal.tenant_id, document_id, principal.actor)
    _publish_after_commit(request, background, outcome)
    return KnowledgeDocumentRead.model_validate(outcome.documents[0])


@router.delete("/{document_id}", status_code=status.HTTP_204_NO_CONTENT, responses={**ERRORS, **NOT_FOUND})
async def delete_document(document_id: UUID, request: Request, background: BackgroundTasks, principal: Manager) -> None:
    """Delete the document, its file, and its chunks and vectors everywhere."""
    outcome = await service.delete_document(principal.session, principal.tenant_id, document_id, principal.actor)
    _publish_after_commit(request, background, outcome)


class UploadBodyLimit:
    """Refuse an upload body over the limit while it streams in (413), before it is spooled to disk."""

    def __init__(self, app: ASGIApp, max_bytes: int, path: str = PREFIX) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.path = path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"].rstrip("/") != self.path:
            await self.app(scope, receive, send)
            return
        limit = self.max_bytes
        message = f"The upload is larger than the limit of {limit // 2**20} MB per request."
        too_large = HTTPException(413, message)
        for name, value in scope.get("headers", []):
            if name == b"content-length" and value.isdigit() and int(value) > limit:
                response = JSONResponse({"code": "too_large", "message": message}, status_code=413)
                await response(scope, receive, send)
                return
        received = 0

        async def limited() -> Message:
            nonlocal received
            chunk = await receive()
            if chunk["type"] == "http.request":
                received += len(chunk.get("body", b""))
                if received > limit:
                    raise too_large
            return chunk

        await self.app(scope, limited, send)
