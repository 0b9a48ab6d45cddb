"""Every table of the `ingestion` schema, for Alembic."""

from wafaa.ingestion.chunks.models import KnowledgeChunk
from wafaa.ingestion.database import Base, ProcessedEvent, metadata

__all__ = ["Base", "KnowledgeChunk", "ProcessedEvent", "metadata"]
