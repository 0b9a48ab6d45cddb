"""Where chunk vectors live, behind one protocol chosen by VECTOR_DB_PROVIDER.

- `pgvector` (default): the vectors stay in the chunk rows (`ingestion.knowledge_chunks.embedding`), so
  writes here are no-ops and `search` runs dense, full-text and their fusion in one SQL statement.
- `pinecone`: one namespace per tenant in a Pinecone index reached at its own data-plane host
  (PINECONE_INDEX_HOST); the control plane is never called. Chunk rows keep their text, citation and
  tsvector in Postgres with a NULL embedding, and `search` joins the dense matches back to committed
  rows of the tenant, so a vector whose row is not (or no longer) there is never returned.

The Pinecone client is imported lazily: only the services that read or write vectors install it.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Protocol, Self, runtime_checkable
from uuid import UUID

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings
from sqlalchemy.ext.asyncio import AsyncSession

from wafaa.common.knowledge.search import search

VectorDbProvider = Literal["pgvector", "pinecone"]

UPSERT_BATCH = 100  # vectors per upsert request (Pinecone's recommended batch)
LIST_PAGE = 100  # ids per list request (the API's largest page)
DELETE_BATCH = 1000  # ids per delete request (the API's limit)
# Pinecone metadata has no null: a chunk without `valid_to` gets the last second of year 9999.
NO_EXPIRY = 253_402_300_799.0


class VectorStoreSettings(BaseSettings):
    """Vector store settings; mixed into the settings of every service that writes or searches chunks."""

    vector_db_provider: VectorDbProvider = "pgvector"
    pinecone_api_key: SecretStr = SecretStr("")
    # The index's own data-plane host (as the console shows it); the control plane is never asked for it.
    pinecone_index_host: str = ""
    pinecone_timeout_seconds: float = Field(default=10.0, gt=0)

    @model_validator(mode="after")
    def _pinecone_needs_host_and_key(self) -> Self:
        if self.vector_db_provider == "pinecone" and not (
            self.pinecone_index_host.strip() and self.pinecone_api_key.get_secret_value()
        ):
            raise ValueError("VECTOR_DB_PROVIDER=pinecone needs PINECONE_INDEX_HOST and PINECONE_API_KEY")
        return self


@dataclass(frozen=True)
class ChunkVector:
    """One chunk's vector as a store keeps it, with what search filters on."""

    chunk_id: UUID
    ordinal: int
    values: Sequence[float]
    embedding_model: str
    valid_to: datetime | None = None


@dataclass(frozen=True)
class DenseMatch:
    """A dense candidate: the chunk and its cosine similarity to the query."""

    chunk_id: UUID
    similarity: float


@runtime_checkable
class VectorStore(Protocol):
    """Keeps the tenants' chunk vectors and finds the nearest ones, always within one tenant."""

    name: str
    # True: the vectors are the chunk rows' `embedding` column, and search reads them in SQL.
    vectors_in_rows: bool

    async def upsert(self, tenant_id: UUID, document_id: UUID, vectors: Sequence[ChunkVector]) -> None:
        """Write a document's vectors (overwriting those with the same ids)."""
        ...

    async def delete_document(self, tenant_id: UUID, document_id: UUID) -> None:
        """Remove every vector of a document."""
        ...

    async def query(
        self,
        session: AsyncSession,
        tenant_id: UUID,
        vector: Sequence[float],
        *,
        top_k: int,
        min_score: float = -1.0,
        model: str | None = None,
    ) -> list[DenseMatch]:
        """The tenant's nearest live chunks, most similar first (`session`: the caller's transaction)."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...


class PgVectorStore:
    """The vectors are the chunk rows' `embedding`: ingestion writes them with the rows, search reads them in SQL."""

    name = "pgvector"
    vectors_in_rows = True

    async def upsert(self, tenant_id: UUID, document_id: UUID, vectors: Sequence[ChunkVector]) -> None:
        """Nothing to do: the rows carry their vectors."""

    async def delete_document(self, tenant_id: UUID, document_id: UUID) -> None:
        """Nothing to do: the vectors go with the rows."""

    async def query(
        self,
        session: AsyncSession,
        tenant_id: UUID,
        vector: Sequence[float],
        *,
        top_k: int,
        min_score: float = -1.0,
        model: str | None = None,
    ) -> list[DenseMatch]:
        """Dense candidates only, through `ingestion.search_chunks` (the full-text side left out)."""
        hits = await search(session, tenant_id, vector, None, top_k, min_score, embedding_model=model, candidates=top_k)
        return [DenseMatch(h.chunk_id, h.similarity) for h in hits if h.similarity is not None]

    async def aclose(self) -> None:
        """Nothing to release."""


def vector_id(document_id: UUID, ordinal: int) -> str:
    """A chunk's vector id: the document id as a prefix, so a document's vectors can be listed."""
    return f"{document_id}#{ordinal}"


class PineconeStore:
    """A Pinecone index (cosine metric), one namespace per tenant, reached only at its data-plane host.

    Vector ids are `{document_id}#{ordinal}`, with the chunk id, document id, embedding model and
    expiry in the metadata. The client's transport retries 408, 429, 5xx and connection errors itself
    (three retries, jittered exponential backoff, Retry-After honoured); an error after that raises.
    """

    name = "pinecone"
    vectors_in_rows = False

    def __init__(self, index_host: str, api_key: str, *, timeout: float = 10.0) -> None:
        from pinecone import AsyncIndex  # optional dependency of the services that use it

        # An explicit host: the client never calls the control plane to look one up.
        self._index = AsyncIndex(host=index_host, api_key=api_key, timeout=timeout)

    async def upsert(self, tenant_id: UUID, document_id: UUID, vectors: Sequence[ChunkVector]) -> None:
        """Upsert into the tenant's namespace, `UPSERT_BATCH` vectors per request; any failed batch raises."""
        items = [
            {
                "id": vector_id(document_id, v.ordinal),
                "values": [float(x) for x in v.values],
                "metadata": {
                    "document_id": str(document_id),
                    "chunk_id": str(v.chunk_id),
                    "embedding_model": v.embedding_model,
                    "valid_to": v.valid_to.timestamp() if v.valid_to is not None else NO_EXPIRY,
                },
            }
            for v in vectors
        ]
        for start in range(0, len(items), UPSERT_BATCH):
            await self._index.upsert(vectors=items[start : start + UPSERT_BATCH], namespace=str(tenant_id))

    async def delete_document(self, tenant_id: UUID, document_id: UUID) -> None:
        """List the document's ids by prefix, then delete them by id (works on every index type)."""
        namespace = str(tenant_id)
        ids: list[str] = []
        async for page in self._index.list(prefix=f"{document_id}#", limit=LIST_PAGE, namespace=namespace):
            ids.extend(item.id for item in page.vectors if item.id)
        for start in range(0, len(ids), DELETE_BATCH):
            await self._index.delete(ids=ids[start : start + DELETE_BATCH], namespace=namespace)

    async def query(
        self,
        session: AsyncSession,
        tenant_id: UUID,
        vector: Sequence[float],
        *,
        top_k: int,
        min_score: float = -1.0,
        model: str | None = None,
    ) -> list[DenseMatch]:
        """The nearest unexpired vectors in the tenant's namespace (of `model` when given)."""
        # Filtered inside the index, so expired chunks do not take the places of live ones.
        where: dict[str, Any] = {"valid_to": {"$gt": time.time()}}
        if model is not None:
            where["embedding_model"] = {"$eq": model}
        response = await self._index.query(
            top_k=top_k,
            vector=[float(x) for x in vector],
            namespace=str(tenant_id),
            filter=where,
            include_metadata=True,
        )
        matches = []
        for match in response.matches:
            chunk_id = (match.metadata or {}).get("chunk_id")
            if match.score >= min_score and isinstance(chunk_id, str):
                matches.append(DenseMatch(UUID(chunk_id), float(match.score)))
        return matches

    async def aclose(self) -> None:
        """Close the client's connection pool."""
        await self._index.close()


def make_vector_store(settings: VectorStoreSettings) -> VectorStore:
    """The store VECTOR_DB_PROVIDER names, configured from settings."""
    if settings.vector_db_provider == "pinecone":
        return PineconeStore(
            settings.pinecone_index_host.strip(),
            settings.pinecone_api_key.get_secret_value(),
            timeout=settings.pinecone_timeout_seconds,
        )
    return PgVectorStore()
