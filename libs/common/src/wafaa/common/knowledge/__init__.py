"""Read interface of the knowledge index (owned by ingestion), usable by the gateway and rag."""

from wafaa.common.knowledge.chunks import IndexedChunk, document_chunks
from wafaa.common.knowledge.search import KnowledgeHit, search, vector_literal
from wafaa.common.knowledge.vectors import (
    ChunkVector,
    DenseMatch,
    PgVectorStore,
    PineconeStore,
    VectorStore,
    VectorStoreSettings,
    make_vector_store,
)

__all__ = [
    "ChunkVector",
    "DenseMatch",
    "IndexedChunk",
    "KnowledgeHit",
    "PgVectorStore",
    "PineconeStore",
    "VectorStore",
    "VectorStoreSettings",
    "document_chunks",
    "make_vector_store",
    "search",
    "vector_literal",
]
