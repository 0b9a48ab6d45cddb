"""Composition root of the ingestion service."""

from wafaa.common.events import DocumentDeleted, DocumentReprocessRequested, DocumentUploaded
from wafaa.common.knowledge import make_vector_store
from wafaa.common.runtime import WorkerRuntime
from wafaa.ingestion.chunks.handlers import (
    DocumentIndexing,
    on_document_deleted,
    on_document_uploaded,
    on_reprocess_requested,
)
from wafaa.ingestion.chunks.service import Indexer
from wafaa.ingestion.config import IngestionSettings
from wafaa.ingestion.database import ProcessedEvent
from wafaa.ingestion.embedding import make_indexing_embedder
from wafaa.ingestion.extraction import sandbox
from wafaa.ingestion.extraction.schemas import ExtractionLimits
from wafaa.ingestion.publishing import CoalescingPublisher

settings = IngestionSettings()
runtime = WorkerRuntime(settings, "ingestion")
if runtime.db is None:
    raise RuntimeError("ingestion runs with its database")
embedder = make_indexing_embedder(settings)
statuses = CoalescingPublisher(runtime.publisher.publish_many)
indexer = Indexer(
    embedder=embedder,
    publish=statuses.publish,
    uploads_dir=settings.uploads_dir,
    limits=ExtractionLimits(
        timeout_seconds=settings.extraction_timeout_seconds,
        memory_mb=settings.extraction_memory_mb,
        workers=settings.extraction_workers,
        max_file_bytes=settings.max_document_mb * 2**20,
        zip_max_entries=settings.zip_max_entries,
        zip_max_total_bytes=settings.zip_max_uncompressed_mb * 2**20,
        zip_max_ratio=settings.zip_max_ratio,
    ),
    batch_size=settings.embedding_batch_size,
    max_chunks=settings.max_chunks_per_document,
    store=make_vector_store(settings),
)
# Uploads and reprocessing record their inbox rows themselves, in the transactions that store the
# chunks (several documents to one), so parsing and embedding hold no connection: many documents are
# in flight at once, parsing in the worker processes while their texts share model calls.
indexing = DocumentIndexing(runtime.db, indexer, group=runtime.service, consumer=runtime.consumer.options.consumer)
concurrency = settings.indexing_concurrency
runtime.consumer.subscribe(DocumentUploaded, on_document_uploaded(indexing), concurrency=concurrency)
runtime.consumer.subscribe(DocumentReprocessRequested, on_reprocess_requested(indexing), concurrency=concurrency)
runtime.on(DocumentDeleted, on_document_deleted(indexer.store), inbox=ProcessedEvent)

app = runtime.asgi()


@app.after_shutdown
async def close_vector_store() -> None:
    await indexing.aclose()
    await statuses.aclose()
    await indexer.store.aclose()
    await embedder.aclose()
    sandbox.shutdown()
