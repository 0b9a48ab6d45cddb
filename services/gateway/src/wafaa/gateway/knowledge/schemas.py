"""API shapes of knowledge documents, their chunks and the admin search tool."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from wafaa.gateway.schema_types import IsoDatetime

DocumentStatus = Literal["queued", "processing", "ready", "failed"]
FileType = Literal["pdf", "docx", "txt", "md", "csv", "json", "html"]


class KnowledgeDocumentMetadata(BaseModel):
    """Optional metadata of one uploaded file (seasonal menus: `valid_from` / `valid_to`)."""

    model_config = ConfigDict(extra="forbid")

    title: str | None = Field(default=None, min_length=1, max_length=300)
    tags: list[str] = Field(default_factory=list, max_length=20)
    language: str | None = Field(default=None, min_length=2, max_length=16, pattern=r"^[A-Za-z]{2,3}(-[A-Za-z0-9]+)*$")
    valid_from: IsoDatetime | None = None
    valid_to: IsoDatetime | None = None

    @field_validator("tags")
    @classmethod
    def _clean_tags(cls, value: list[str]) -> list[str]:
        tags: list[str] = []
        for tag in value:
            tag = tag.strip()
            if not tag or len(tag) > 50 or any(ord(ch) < 32 for ch in tag):
                raise ValueError("each tag must be 1 to 50 printable characters")
            if tag not in tags:
                tags.append(tag)
        return tags

    @model_validator(mode="after")
    def _window(self) -> KnowledgeDocumentMetadata:
        for name in ("valid_from", "valid_to"):
            value = getattr(self, name)
            if value is not None and value.tzinfo is None:
                raise ValueError(f"{name} must include a time zone")
        if self.valid_from and self.valid_to and self.valid_to <= self.valid_from:
            raise ValueError("valid_to must be after valid_from")
        return self


class KnowledgeDocumentRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: UUID
    title: str
    original_filename: str = Field(description="The uploaded file's name, sanitised (metadata only).")
    file_type: FileType = Field(description="Detected from the content, not the name.")
    content_type: str
    size_bytes: int
    sha256: str
    status: DocumentStatus
    progress: float = Field(description="0 to 1 while processing; 1 when ready or failed.")
    error_reason: str | None
    page_count: int | None
    chunk_count: int | None
    generation: int = Field(description="Incremented by every reprocess.")
    queued_at: datetime
    processing_started_at: datetime | None
    processed_at: datetime | None
    duration_ms: int | None
    tags: list[str]
    language: str | None
    valid_from: datetime | None
    valid_to: datetime | None
    chunk_size: int
    chunk_overlap: int
    uploaded_by: UUID | None
    created_at: datetime
    updated_at: datetime


class KnowledgeDocumentPage(BaseModel):
    items: list[KnowledgeDocumentRead]
    next_cursor: str | None = Field(description="Pass as `cursor` to get the next (older) page; null at the end.")


class KnowledgeDocumentFilter(BaseModel):
    status: DocumentStatus | None = None
    file_type: FileType | None = None
    tag: str | None = Field(default=None, max_length=50)
    text: str | None = Field(default=None, max_length=200)


class KnowledgeChunkRead(BaseModel):
    chunk_id: UUID
    ordinal: int
    text: str
    location: dict[str, Any] = Field(description="Citation location: page, section, row…")
    embedding_provider: str
    embedding_model: str


class KnowledgeChunkPage(BaseModel):
    document_id: UUID
    items: list[KnowledgeChunkRead]
    next_offset: int | None


class KnowledgeSearchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query: str = Field(min_length=1, max_length=2000)
    top_k: int | None = Field(default=None, ge=1, le=50, description="Default: the tenant's retrieval top_k.")
    min_score: float | None = Field(default=None, ge=0.0, le=1.0, description="Default: the tenant's min_score.")


class KnowledgeDocumentRef(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: UUID
    title: str
    original_filename: str
    file_type: FileType


class KnowledgeSearchHit(BaseModel):
    chunk_id: UUID
    document_id: UUID
    text: str
    location: dict[str, Any]
    score: float = Field(description="Reciprocal-rank-fusion score of the dense and full-text ranks.")
    similarity: float | None
    text_rank: float | None
    document: KnowledgeDocumentRef | None = Field(description="Null if the document was just deleted.")


class KnowledgeSearchResult(BaseModel):
    query: str
    top_k: int
    min_score: float
    embedding_provider: str
    embedding_model: str
    items: list[KnowledgeSearchHit]
