"""Reading conversations and messages through the rag service's security-invoker views.

rag owns `rag.conversations` and `rag.messages`; its migration `rag0002` exposes them as
`rag.conversation_directory` and `rag.message_log` (SELECT only, row-level security of the reader
applies). Every query also filters on the tenant explicitly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from wafaa.common.db.cursor import decode_cursor, encode_cursor

_CONVERSATION_COLUMNS = (
    "id, channel, channel_id, customer_id, customer_name, status, created_at, last_message_at, message_count"
)
_MESSAGE_COLUMNS = "id, conversation_id, direction, author, kind, text, sources, sent_at, created_at"


@dataclass(frozen=True)
class ConversationRow:
    id: UUID
    channel: str
    channel_id: UUID | None
    customer_id: str
    customer_name: str | None
    status: str
    created_at: datetime
    last_message_at: datetime
    message_count: int


@dataclass(frozen=True)
class MessageRow:
    id: UUID
    conversation_id: UUID
    direction: str
    author: str
    kind: str
    text: str | None
    sources: list[dict[str, Any]]
    sent_at: datetime
    created_at: datetime


@dataclass(frozen=True)
class ConversationFilter:
    channel: str | None = None
    status: str | None = None
    customer: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    search: str | None = None
    limit: int = 50
    cursor: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class ConversationReader:
    """Conversations of the transaction's tenant."""

    def __init__(self, session: AsyncSession, tenant_id: UUID) -> None:
        self.session = session
        self.tenant_id = tenant_id

    async def get(self, conversation_id: UUID) -> ConversationRow | None:
        """One conversation, or None (unknown or another tenant's)."""
        sql = text(f"SELECT {_CONVERSATION_COLUMNS} FROM rag.conversation_directory WHERE tenant_id = :t AND id = :id")
        row = (await self.session.execute(sql, {"t": self.tenant_id, "id": conversation_id})).mappings().first()
        return ConversationRow(**row) if row else None

    async def page(self, flt: ConversationFilter) -> tuple[list[ConversationRow], str | None]:
        """A page of conversations, newest activity first, and the cursor of the next page."""
        where = ["tenant_id = :t"]
        params: dict[str, Any] = {"t": self.tenant_id, "limit": flt.limit + 1}
        if flt.channel:
            where.append("channel = :channel")
            params["channel"] = flt.channel
        if flt.status:
            where.append("status = :status")
            params["status"] = flt.status
        if flt.customer:
            where.append("(customer_id = :customer OR customer_name ILIKE :customer_like ESCAPE '\\')")
            params["customer"] = flt.customer
            params["customer_like"] = f"%{_escape_like(flt.customer)}%"
        if flt.since:
            where.append("last_message_at >= :since")
            params["since"] = flt.since
        if flt.until:
            where.append("last_message_at < :until")
            params["until"] = flt.until
        if flt.search:
            where.append(
                "EXISTS (SELECT 1 FROM rag.message_log m WHERE m.tenant_id = :t "
                "AND m.conversation_id = conversation_directory.id AND m.text ILIKE :search ESCAPE '\\')"
            )
            params["search"] = f"%{_escape_like(flt.search)}%"
        if flt.cursor:
            when, row_id = decode_cursor(flt.cursor)
            where.append("(last_message_at, id) < (:c_when, :c_id)")
            params["c_when"], params["c_id"] = when, row_id
        sql = text(
            f"SELECT {_CONVERSATION_COLUMNS} FROM rag.conversation_directory WHERE {' AND '.join(where)} "
            "ORDER BY last_message_at DESC, id DESC LIMIT :limit"
        )
        rows = [ConversationRow(**r) for r in (await self.session.execute(sql, params)).mappings().all()]
        page = rows[: flt.limit]
        return page, (encode_cursor(page[-1].last_message_at, page[-1].id) if len(rows) > flt.limit else None)

    async def messages(self, conversation_id: UUID, limit: int = 500) -> list[MessageRow]:
        """The messages of a conversation, oldest first."""
        sql = text(
            f"SELECT {_MESSAGE_COLUMNS} FROM rag.message_log WHERE tenant_id = :t AND conversation_id = :c "
            "ORDER BY created_at, id LIMIT :limit"
        )
        params = {"t": self.tenant_id, "c": conversation_id, "limit": limit}
        return [
            MessageRow(**{**r, "sources": list(r["sources"] or [])})
            for r in (await self.session.execute(sql, params)).mappings().all()
        ]
