"""Read interface of the knowledge index (owned by ingestion), usable by the gateway and rag."""

from wafaa.common.knowledge.chunks import IndexedChunk, document_chunks
from wafaa.common.knowledge.search import KnowledgeHit, search, vector_literal

__all__ = ["IndexedChunk", "KnowledgeHit", "document_chunks", "search", "vector_literal"]
