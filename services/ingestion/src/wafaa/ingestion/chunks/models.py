"""Knowledge chunk rows (owned by ingestion)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from pgvector.sqlalchemy import Vector
from sqlalchemy import Computed, DateTime, Index, Integer, String, Text
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, TSVECTOR
from sqlalchemy.orm import Mapped, mapped_column

from wafaa.common.db import HasCreatedAt, HasId, TenantScoped
from wafaa.ingestion.database import Base


class KnowledgeChunk(TenantScoped, HasId, HasCreatedAt, Base):
    __tablename__ = "knowledge_chunks"
    __table_args__ = (
        Index("ix_knowledge_chunks_search_vector", "search_vector", postgresql_using="gin"),
        Index("ix_knowledge_chunks_tenant_id_document_id", "tenant_id", "document_id"),
    )

    document_id: Mapped[UUID] = mapped_column(index=True)
    ordinal: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    location: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    # No fixed dimension: the provider decides (hash 512, local 512, openai 1536); search compares like with like.
    embedding: Mapped[list[float] | None] = mapped_column(Vector(), nullable=True)
    embedding_provider: Mapped[str] = mapped_column(String(32), server_default="")
    embedding_model: Mapped[str] = mapped_column(String(128), server_default="")
    title: Mapped[str] = mapped_column(Text, server_default="")
    tags: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default="{}")
    valid_from: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    valid_to: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    search_vector: Mapped[str] = mapped_column(
        TSVECTOR, Computed("to_tsvector('simple', title || ' ' || text)", persisted=True)
    )
