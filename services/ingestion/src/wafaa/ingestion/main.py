"""Composition root of the ingestion service."""

from wafaa.common.events import DocumentDeleted
from wafaa.common.runtime import WorkerRuntime
from wafaa.ingestion.chunks.handlers import on_document_deleted
from wafaa.ingestion.config import IngestionSettings
from wafaa.ingestion.database import ProcessedEvent

settings = IngestionSettings()
runtime = WorkerRuntime(settings, "ingestion")
runtime.on(DocumentDeleted, on_document_deleted, inbox=ProcessedEvent)

app = runtime.asgi()
