"""Subscribers of the chunks domain."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncSession

from wafaa.common.events import DocumentDeleted, DocumentReprocessRequested, DocumentUploaded
from wafaa.common.knowledge.vectors import VectorStore
from wafaa.ingestion.chunks import service
from wafaa.ingestion.chunks.service import Indexer


def on_document_deleted(store: VectorStore) -> Callable[[AsyncSession, DocumentDeleted], Awaitable[None]]:
    """An admin deleted a document: its chunks and vectors go."""

    async def document_deleted(session: AsyncSession, event: DocumentDeleted) -> None:
        await service.forget_document(session, store, event)

    return document_deleted


def on_document_uploaded(indexer: Indexer) -> Callable[[AsyncSession, DocumentUploaded], Awaitable[None]]:
    """An admin uploaded a document: index it."""

    async def document_uploaded(session: AsyncSession, event: DocumentUploaded) -> None:
        await service.index_document(session, indexer, event)

    return document_uploaded


def on_reprocess_requested(
    indexer: Indexer,
) -> Callable[[AsyncSession, DocumentReprocessRequested], Awaitable[None]]:
    """An admin asked for a document to be indexed again (new chunk settings or embedder)."""

    async def reprocess_requested(session: AsyncSession, event: DocumentReprocessRequested) -> None:
        await service.index_document(session, indexer, event)

    return reprocess_requested
