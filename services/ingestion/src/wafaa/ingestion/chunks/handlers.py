"""Subscribers of the chunks domain."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from wafaa.common.events import DocumentDeleted
from wafaa.ingestion.chunks import service


async def on_document_deleted(session: AsyncSession, event: DocumentDeleted) -> None:
    """An admin deleted a document."""
    await service.forget_document(session, event)
