"""Hybrid search over a tenant's knowledge chunks through `ingestion.search_chunks`.

The SQL function is owned by the ingestion schema (its migration creates it and grants EXECUTE to
the services' role), so readers depend on a stable function signature, not on the table layout.
`search_chunks` runs as its owner and refuses a tenant other than the one the caller's transaction
is scoped to (`app.tenant_id`, which row-level security reads); every query inside filters on it.
With vectors kept outside Postgres (Pinecone), the dense candidates come from the store and
`ingestion.search_chunks_fused` ranks them with the full-text candidates by the same fusion.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from uuid import UUID

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

if TYPE_CHECKING:
    from wafaa.common.knowledge.vectors import DenseMatch, VectorStore

_SEARCH = text(
    "SELECT chunk_id, document_id, title, content, location, score, similarity, text_rank "
    "FROM ingestion.search_chunks(CAST(:tenant_id AS uuid), CAST(:embedding AS vector), :query, "
    ":top_k, :min_score, :model, :candidates)"
)
_SEARCH_FUSED = text(
    "SELECT chunk_id, document_id, title, content, location, score, similarity, text_rank "
    "FROM ingestion.search_chunks_fused(CAST(:tenant_id AS uuid), CAST(:dense_ids AS uuid[]), "
    "CAST(:dense_similarities AS double precision[]), :query, :top_k, :candidates)"
)


@dataclass(frozen=True)
class KnowledgeHit:
    """One retrieved chunk with its document, citation location and scores."""

    chunk_id: UUID
    document_id: UUID
    title: str
    text: str
    location: dict[str, Any]
    score: float
    similarity: float | None
    text_rank: float | None


def vector_literal(values: Sequence[float]) -> str:
    """pgvector's text form of a vector: `[0.1,0.2,...]`."""
    return "[" + ",".join(f"{v:.7g}" for v in values) + "]"


async def search(
    session: AsyncSession,
    tenant_id: UUID,
    query_embedding: Sequence[float] | None,
    query_text: str | None,
    top_k: int = 10,
    min_score: float = 0.0,
    *,
    embedding_model: str | None = None,
    candidates: int = 50,
    store: VectorStore | None = None,
) -> list[KnowledgeHit]:
    """The tenant's top-k chunks: dense and full-text ranks fused by reciprocal rank fusion.

    Exact within the tenant (every vector scored) unless the tenant is large enough to have its own
    HNSW index (`wafaa-search-indexes`); expired chunks never returned. `min_score`
    is a floor on cosine similarity for chunks found only by the dense side; `embedding_model`
    restricts the dense side to vectors of that model (needed while a re-embed is under way).
    `store`: where the vectors live; None or pgvector reads them from the chunk rows.
    """
    candidates = max(candidates, top_k)
    if store is not None and not store.vectors_in_rows:
        dense: list[DenseMatch] = []
        if query_embedding is not None:
            dense = await store.query(
                session, tenant_id, query_embedding, top_k=candidates, min_score=min_score, model=embedding_model
            )
        fused = {
            "tenant_id": str(tenant_id),
            "dense_ids": [m.chunk_id for m in dense],
            "dense_similarities": [m.similarity for m in dense],
            "query": query_text or None,
            "top_k": top_k,
            "candidates": candidates,
        }
        rows = (await session.execute(_SEARCH_FUSED, fused)).mappings().all()
        return [_hit(r) for r in rows]
    params = {
        "tenant_id": str(tenant_id),
        "embedding": vector_literal(query_embedding) if query_embedding is not None else None,
        "query": query_text or None,
        "top_k": top_k,
        "min_score": min_score,
        "model": embedding_model,
        "candidates": candidates,
    }
    rows = (await session.execute(_SEARCH, params)).mappings().all()
    return [_hit(r) for r in rows]


def _hit(r: Any) -> KnowledgeHit:
    return KnowledgeHit(
        chunk_id=r["chunk_id"],
        document_id=r["document_id"],
        title=r["title"],
        text=r["content"],
        location=dict(r["location"] or {}),
        score=float(r["score"]),
        similarity=None if r["similarity"] is None else float(r["similarity"]),
        text_rank=None if r["text_rank"] is None else float(r["text_rank"]),
    )
