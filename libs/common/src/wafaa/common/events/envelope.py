"""The event envelope every message on the bus carries."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar, Generic, TypeVar
from uuid import UUID, uuid4

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

PayloadT = TypeVar("PayloadT", bound=BaseModel)

TENANT_HEADER = "x-tenant-id"
EVENT_ID_HEADER = "x-event-id"
EVENT_TYPE_HEADER = "x-event-type"
REQUEST_ID_HEADER = "x-request-id"


def utcnow() -> datetime:
    """The current time, timezone-aware in UTC."""
    return datetime.now(UTC)


class Payload(BaseModel):
    """Base of every event payload: tolerant of fields added by newer producers."""

    model_config = ConfigDict(extra="ignore")


class Event(BaseModel, Generic[PayloadT]):
    """A past-tense fact one service tells the others, always about one tenant."""

    model_config = ConfigDict(extra="ignore")

    event_id: UUID = Field(default_factory=uuid4)
    tenant_id: UUID
    type: str
    version: int = 1
    occurred_at: AwareDatetime = Field(default_factory=utcnow)
    payload: PayloadT

    stream: ClassVar[str]

    def headers(self, request_id: str | None = None) -> dict[str, Any]:
        """Headers that travel with the event: tenant, id and type, readable without decoding."""
        headers = {
            TENANT_HEADER: str(self.tenant_id),
            EVENT_ID_HEADER: str(self.event_id),
            EVENT_TYPE_HEADER: self.type,
        }
        if request_id:
            headers[REQUEST_ID_HEADER] = request_id
        return headers
