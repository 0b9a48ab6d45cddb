"""Queries on knowledge chunks."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from sqlalchemy import func, insert

from wafaa.common.db import TenantRepository
from wafaa.ingestion.chunks.models import KnowledgeChunk


class ChunkRepository(TenantRepository[KnowledgeChunk]):
    model = KnowledgeChunk

    async def delete_document(self, document_id: UUID) -> int:
        """Remove every chunk of one document; the number removed."""
        result = await self.session.execute(self.delete().where(KnowledgeChunk.document_id == document_id))
        return int(getattr(result, "rowcount", 0) or 0)

    async def replace_document(self, document_id: UUID, rows: Sequence[dict[str, Any]]) -> int:
        """Swap a document's chunks for `rows` (the caller's transaction makes the swap atomic)."""
        return await self.replace_documents([document_id], [{**row, "document_id": document_id} for row in rows])

    async def replace_documents(self, document_ids: Sequence[UUID], rows: Sequence[dict[str, Any]]) -> int:
        """Swap the chunks of several documents for `rows` (each names its `document_id`), in two statements."""
        if document_ids:
            await self.session.execute(self.delete().where(KnowledgeChunk.document_id.in_(document_ids)))
        if rows:
            stamped = [{**row, "tenant_id": self.tenant_id} for row in rows]
            # Core executemany on the table (the ORM's bulk path adds nothing for new rows but its
            # bookkeeping): asyncpg sends the batch in one round trip per page of rows.
            await self.session.execute(insert(KnowledgeChunk.__table__), stamped)
        return len(rows)

    async def count_document(self, document_id: UUID) -> int:
        """How many chunks a document has."""
        stmt = self.select(func.count()).where(KnowledgeChunk.document_id == document_id)
        return int((await self.session.execute(stmt)).scalar_one())
