"""Keeping the index in step with the tenant's documents."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from wafaa.common.events import DocumentDeleted
from wafaa.ingestion.chunks.repository import ChunkRepository


async def forget_document(session: AsyncSession, event: DocumentDeleted) -> int:
    """A deleted document's chunks leave the index."""
    return await ChunkRepository(session, event.tenant_id).delete_document(event.payload.document_id)
