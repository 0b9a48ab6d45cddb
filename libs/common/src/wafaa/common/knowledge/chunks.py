"""A document's indexed chunks through `ingestion.document_chunks` (owned by ingestion).

Like search, it reads through a SQL function with a stable signature, running as the caller, so
row-level security applies on top of its own tenant filter.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

_CHUNKS = text(
    "SELECT chunk_id, ordinal, content, location, embedding_provider, embedding_model, created_at "
    "FROM ingestion.document_chunks(CAST(:tenant_id AS uuid), CAST(:document_id AS uuid), :limit, :offset)"
)


@dataclass(frozen=True)
class IndexedChunk:
    """One chunk as indexed: its order, text, citation location and the embedder that made its vector."""

    chunk_id: UUID
    ordinal: int
    text: str
    location: dict[str, Any]
    embedding_provider: str
    embedding_model: str
    created_at: datetime


async def document_chunks(
    session: AsyncSession, tenant_id: UUID, document_id: UUID, *, limit: int = 1000, offset: int = 0
) -> list[IndexedChunk]:
    """The document's chunks in reading order (a page of them)."""
    params = {"tenant_id": str(tenant_id), "document_id": str(document_id), "limit": limit, "offset": offset}
    rows = (await session.execute(_CHUNKS, params)).mappings().all()
    return [
        IndexedChunk(
            chunk_id=r["chunk_id"],
            ordinal=int(r["ordinal"]),
            text=r["content"],
            location=dict(r["location"] or {}),
            embedding_provider=r["embedding_provider"],
            embedding_model=r["embedding_model"],
            created_at=r["created_at"],
        )
        for r in rows
    ]
