"""Knowledge chunk rows (owned by ingestion)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from sqlalchemy import Integer, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from wafaa.common.db import HasCreatedAt, HasId, TenantScoped
from wafaa.ingestion.database import Base


class KnowledgeChunk(TenantScoped, HasId, HasCreatedAt, Base):
    __tablename__ = "knowledge_chunks"

    document_id: Mapped[UUID] = mapped_column(index=True)
    ordinal: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    location: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
