"""What the search-index maintainer reads about tenants."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID


@dataclass(frozen=True)
class ChunkGroup:
    """A tenant's chunks of one embedding model."""

    tenant_id: UUID
    model: str
    chunks: int
