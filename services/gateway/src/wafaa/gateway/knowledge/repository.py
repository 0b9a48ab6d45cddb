"""Queries on knowledge documents, and the read interfaces of the ingestion index, per tenant."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

from sqlalchemy import and_, func, or_, text
from sqlalchemy.ext.asyncio import AsyncSession

from wafaa.common import knowledge
from wafaa.common.db import TenantRepository
from wafaa.gateway.knowledge.models import KnowledgeDocument
from wafaa.gateway.knowledge.schemas import KnowledgeDocumentFilter


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


class KnowledgeDocumentRepository(TenantRepository[KnowledgeDocument]):
    model = KnowledgeDocument

    async def insert(self, document: KnowledgeDocument) -> KnowledgeDocument:
        """Stage and flush a new document row."""
        self.add(document)
        await self.session.flush()
        return document

    async def get_for_update(self, document_id: UUID) -> KnowledgeDocument | None:
        """A document of this tenant, locked until the transaction ends."""
        stmt = self.select().where(KnowledgeDocument.id == document_id).with_for_update()
        found: KnowledgeDocument | None = (await self.session.execute(stmt)).scalar_one_or_none()
        return found

    async def get_many(self, ids: Sequence[UUID]) -> dict[UUID, KnowledgeDocument]:
        """Documents of this tenant by id."""
        if not ids:
            return {}
        rows = (await self.session.execute(self.select().where(KnowledgeDocument.id.in_(ids)))).scalars().all()
        return {row.id: row for row in rows}

    async def total_bytes(self) -> int:
        """Storage used by the tenant's documents."""
        stmt = self.select(func.coalesce(func.sum(KnowledgeDocument.size_bytes), 0))
        return int((await self.session.execute(stmt)).scalar_one())

    async def search(
        self, filters: KnowledgeDocumentFilter, *, limit: int, after: tuple[datetime, UUID] | None = None
    ) -> Sequence[KnowledgeDocument]:
        """Newest first, strictly older than the cursor position when one is given."""
        m = KnowledgeDocument
        stmt = self.select()
        if filters.status:
            stmt = stmt.where(m.status == filters.status)
        if filters.file_type:
            stmt = stmt.where(m.file_type == filters.file_type)
        if filters.tag:
            stmt = stmt.where(m.tags.contains([filters.tag]))
        if filters.text:
            pattern = _like(filters.text)
            stmt = stmt.where(or_(m.title.ilike(pattern, escape="\\"), m.original_filename.ilike(pattern, escape="\\")))
        if after is not None:
            at, row_id = after
            stmt = stmt.where(or_(m.created_at < at, and_(m.created_at == at, m.id < row_id)))
        stmt = stmt.order_by(m.created_at.desc(), m.id.desc()).limit(limit)
        rows: Sequence[KnowledgeDocument] = (await self.session.execute(stmt)).scalars().all()
        return rows

    async def list_all(self) -> Sequence[KnowledgeDocument]:
        """Every document of the tenant, oldest first (for reindexing)."""
        stmt = self.select().order_by(KnowledgeDocument.created_at, KnowledgeDocument.id)
        rows: Sequence[KnowledgeDocument] = (await self.session.execute(stmt)).scalars().all()
        return rows

    async def remove(self, document: KnowledgeDocument) -> None:
        """Delete a document row."""
        await self.session.execute(self.delete().where(KnowledgeDocument.id == document.id))

    async def chunks(self, document_id: UUID, *, limit: int, offset: int) -> list[knowledge.IndexedChunk]:
        """The document's chunks as ingestion indexed them (its read function, this tenant only)."""
        return await knowledge.document_chunks(self.session, self.tenant_id, document_id, limit=limit, offset=offset)

    async def retrieve(
        self,
        embedding: Sequence[float],
        query: str,
        *,
        top_k: int,
        min_score: float,
        model: str,
        store: knowledge.VectorStore | None = None,
    ) -> list[knowledge.KnowledgeHit]:
        """The hybrid search the bot runs, for this tenant (dense candidates from `store` when given)."""
        return await knowledge.search(
            self.session, self.tenant_id, embedding, query, top_k, min_score, embedding_model=model, store=store
        )


async def knowledge_tenants(session: AsyncSession) -> list[UUID]:
    """Every tenant that has documents (SECURITY DEFINER; tenant ids only), for operator commands."""
    rows = await session.execute(text("SELECT tenant_id FROM gateway.knowledge_tenants()"))
    return [r.tenant_id for r in rows]
