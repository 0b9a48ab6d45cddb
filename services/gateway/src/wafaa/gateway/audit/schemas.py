"""API shapes of the audit trail."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

ActorType = Literal["user", "platform", "system"]


class AuditLogRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: UUID
    occurred_at: datetime
    actor_type: ActorType
    actor_id: UUID | None
    actor_label: str | None
    action: str
    resource_type: str
    resource_id: str | None
    changes: dict[str, Any]
    request_id: str | None
    ip: str | None
    user_agent: str | None


class AuditLogPage(BaseModel):
    items: list[AuditLogRead]
    next_cursor: str | None = Field(description="Pass as `cursor` to get the next (older) page; null at the end.")


class AuditLogFilter(BaseModel):
    """Filters shared by the list and the CSV export."""

    actor_type: ActorType | None = None
    actor_id: UUID | None = None
    action: str | None = Field(default=None, max_length=100)
    resource_type: str | None = Field(default=None, max_length=50)
    resource_id: str | None = Field(default=None, max_length=100)
    since: datetime | None = None
    until: datetime | None = None
