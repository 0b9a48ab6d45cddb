"""Queries on knowledge chunks."""

from __future__ import annotations

from uuid import UUID

from wafaa.common.db import TenantRepository
from wafaa.ingestion.chunks.models import KnowledgeChunk


class ChunkRepository(TenantRepository[KnowledgeChunk]):
    model = KnowledgeChunk

    async def delete_document(self, document_id: UUID) -> int:
        """Remove every chunk of one document; the number removed."""
        result = await self.session.execute(self.delete().where(KnowledgeChunk.document_id == document_id))
        return int(getattr(result, "rowcount", 0) or 0)
