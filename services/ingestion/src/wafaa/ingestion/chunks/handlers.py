"""Subscribers of the chunks domain."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from uuid import UUID

from async_batcher.batcher import AsyncBatcher
from sqlalchemy.ext.asyncio import AsyncSession

from wafaa.common.db import Database, record_many
from wafaa.common.events import DocumentDeleted, DocumentReprocessRequested, DocumentUploaded
from wafaa.common.knowledge.vectors import VectorStore
from wafaa.common.observability.metrics import EVENTS_DUPLICATE
from wafaa.ingestion.chunks import service
from wafaa.ingestion.chunks.service import Indexer, IndexingEvent, PreparedDocument
from wafaa.ingestion.database import ProcessedEvent
from wafaa.ingestion.extraction.schemas import ExtractionError
from wafaa.ingestion.extraction.service import resolve_upload

log = logging.getLogger(__name__)

LARGE_DOCUMENT_BYTES = 64 * 1024


def on_document_deleted(store: VectorStore) -> Callable[[AsyncSession, DocumentDeleted], Awaitable[None]]:
    """An admin deleted a document: its chunks and vectors go."""

    async def document_deleted(session: AsyncSession, event: DocumentDeleted) -> None:
        await service.forget_document(session, store, event)

    return document_deleted


class _StoreBatcher(AsyncBatcher[PreparedDocument, "int | Exception"]):
    def __init__(self, owner: DocumentIndexing, max_documents: int) -> None:
        super().__init__(max_batch_size=max(max_documents, 2), max_queue_time=0.005, concurrency=2)
        self.owner = owner

    async def process_batch(self, batch: list[PreparedDocument]) -> list[int | Exception]:
        return await self.owner.store_batch(batch)


class DocumentIndexing:
    """Indexes uploaded and reprocessed documents exactly once, the heavy work outside any transaction.

    Extraction and embedding hold no database connection, so many documents can be in flight at once
    (and their texts share model calls). A prepared document then joins the others ready at that
    moment: one tenant transaction records their inbox rows and swaps their chunks. The inbox row of
    each event is still written in the transaction of its effect; an event applied before (a
    redelivery) is skipped there, and a transaction that fails is retried document by document, so
    one bad document never holds back the others.
    """

    def __init__(
        self,
        db: Database,
        indexer: Indexer,
        *,
        group: str,
        consumer: str,
        max_documents_per_transaction: int = 64,
        large_documents_at_once: int = 16,
    ) -> None:
        self.db = db
        self.indexer = indexer
        self.group = group
        self.consumer = consumer
        self._store = _StoreBatcher(self, max_documents_per_transaction)
        # Many small documents in flight cost little memory; a large one's text and vectors (16 KB a
        # chunk) do: those take one of a few slots (the number once in flight of any size).
        self._large = asyncio.Semaphore(large_documents_at_once)
        self._in_flight: dict[UUID, asyncio.Future[None]] = {}
        # Events this process has applied lately: the reclaimer may hand one back before its batch
        # is acknowledged, and it need not be extracted and embedded again to find the inbox row.
        self._applied: OrderedDict[UUID, None] = OrderedDict()

    async def index(self, event: IndexingEvent) -> None:
        """Index one document; returns once its chunks (or its failure) are committed."""
        if event.event_id in self._applied:
            EVENTS_DUPLICATE.labels(self.group, event.stream).inc()
            return
        running = self._in_flight.get(event.event_id)
        if running is not None:  # the same event delivered again while this process still works on it
            await asyncio.wait([running])
            if running.cancelled() or running.exception() is not None:
                raise RuntimeError("the first delivery of this event failed; it will be retried")
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._in_flight[event.event_id] = future
        try:
            large = _upload_size(self.indexer, event) > LARGE_DOCUMENT_BYTES
            async with self._large if large else contextlib.nullcontext():
                prepared = await service.prepare_document(self.indexer, event)
                await self._store.process(prepared)
        except asyncio.CancelledError:
            future.cancel()
            raise
        except Exception as exc:
            future.set_exception(exc)
            future.exception()  # marked retrieved: no duplicate may be waiting for it
            raise
        else:
            future.set_result(None)
            self._applied[event.event_id] = None
            if len(self._applied) > 10_000:
                self._applied.popitem(last=False)
        finally:
            del self._in_flight[event.event_id]

    async def store_batch(self, batch: Sequence[PreparedDocument]) -> list[int | Exception]:
        """Store prepared documents, a transaction per tenant; a failed transaction is retried one by one."""
        outcomes: dict[int, int | Exception] = {}
        for group in _transaction_groups(batch):
            try:
                counts = await self._store_together([batch[i] for i in group])
                outcomes.update(zip(group, counts, strict=True))
            except Exception as exc:
                if len(group) == 1:
                    outcomes[group[0]] = exc
                    continue
                log.warning("storing %d documents together failed; storing them one by one", len(group), exc_info=True)
                for i in group:
                    try:
                        [outcomes[i]] = await self._store_together([batch[i]])
                    except Exception as single:  # noqa: BLE001 - the handler raises it: the event is retried
                        outcomes[i] = single
        return [outcomes[i] for i in range(len(batch))]

    async def _store_together(self, documents: list[PreparedDocument]) -> list[int]:
        tenant = documents[0].event.tenant_id
        async with self.db.transaction(tenant) as session:
            ids = [d.event.event_id for d in documents]
            fresh = await record_many(session, ProcessedEvent, tenant, ids, self.group, self.consumer)
            todo = [d for d in documents if d.event.event_id in fresh]
            for d in documents:
                if d.event.event_id not in fresh:
                    EVENTS_DUPLICATE.labels(self.group, d.event.stream).inc()
            stored = await service.store_documents(session, self.indexer, todo)
        counts = {d.event.event_id: count for d, count in zip(todo, stored, strict=True)}
        return [counts.get(d.event.event_id, 0) for d in documents]

    async def aclose(self) -> None:
        """Store what is queued and stop the batcher's task."""
        if await self._store.is_running():
            await self._store.stop(timeout=30)


def _upload_size(indexer: Indexer, event: IndexingEvent) -> int:
    """The uploaded file's size (0 if it cannot be read: extraction then says why)."""
    try:
        return resolve_upload(indexer.uploads_dir, event.payload.storage_path).stat().st_size
    except (ExtractionError, OSError):
        return 0


def _transaction_groups(batch: Sequence[PreparedDocument]) -> list[list[int]]:
    """Indexes of `batch` per transaction: one tenant each, and a document at most once in each."""
    groups: list[list[int]] = []
    open_groups: dict[UUID, tuple[list[int], set[UUID]]] = {}
    for i, prepared in enumerate(batch):
        tenant = prepared.event.tenant_id
        current = open_groups.get(tenant)
        if current is None or prepared.document_id in current[1]:
            current = ([], set())
            open_groups[tenant] = current
            groups.append(current[0])
        current[0].append(i)
        current[1].add(prepared.document_id)
    return groups


def on_document_uploaded(indexing: DocumentIndexing) -> Callable[[DocumentUploaded], Awaitable[None]]:
    """An admin uploaded a document: index it."""

    async def document_uploaded(event: DocumentUploaded) -> None:
        await indexing.index(event)

    return document_uploaded


def on_reprocess_requested(indexing: DocumentIndexing) -> Callable[[DocumentReprocessRequested], Awaitable[None]]:
    """An admin asked for a document to be indexed again (new chunk settings or embedder)."""

    async def reprocess_requested(event: DocumentReprocessRequested) -> None:
        await indexing.index(event)

    return reprocess_requested
