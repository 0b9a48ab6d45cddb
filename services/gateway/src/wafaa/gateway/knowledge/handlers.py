"""Subscribers of the knowledge domain."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from wafaa.common.events import DocumentStatusChanged
from wafaa.gateway.knowledge import service


async def on_document_status_changed(session: AsyncSession, event: DocumentStatusChanged) -> None:
    """Ingestion moved a document along queued → processing → ready | failed."""
    await service.apply_status(session, event)
