"""Queries on conversations and messages.

Every statement is built once, at import, in SQLAlchemy Core on the tables (each with its
`tenant_id = :tenant` condition, as the tenant-scoped base would add), and reads plain rows into
the records of `records.py`. These are the rag service's per-message queries, about a dozen per
reply. An ORM statement built per call, loading mapped objects, cost about 0.9–1.3 ms of CPU each on the
2-core benchmark machine; the same query prebuilt in Core about 0.3–0.5 ms. That was roughly a sixth
of the service's CPU per reply (bench/rag.py). The ORM classes in `models.py` still define the tables.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import fields
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from sqlalchemy import Uuid, any_, bindparam, func, select, text, update
from sqlalchemy.dialects.postgresql import ARRAY, insert

from wafaa.common.db import TenantRepository
from wafaa.rag.conversations.models import Conversation, Message
from wafaa.rag.conversations.records import ConversationState, StoredMessage

_CONVERSATIONS = Conversation.__table__
_MESSAGES = Message.__table__
_C = _CONVERSATIONS.c
_M = _MESSAGES.c
# Read in the records' field order, so a row builds its record positionally.
_CONVERSATION_COLUMNS = tuple(_C[f.name] for f in fields(ConversationState))
_MESSAGE_COLUMNS = tuple(_M[f.name] for f in fields(StoredMessage))
_CONVERSATION_OF_TENANT = _C.tenant_id == bindparam("tenant")
_MESSAGE_OF_TENANT = _M.tenant_id == bindparam("tenant")


def _bound(*columns: str) -> dict[str, Any]:
    """`column=:column` for each name: the values an insert takes from its parameters."""
    return {c: bindparam(c) for c in columns}


_NEW_CONVERSATION = insert(_CONVERSATIONS).values(
    tenant_id=bindparam("tenant"),
    **_bound("channel", "customer_id", "channel_id", "customer_name", "last_message_at"),
)
_GET_OR_CREATE = _NEW_CONVERSATION.on_conflict_do_update(
    index_elements=["tenant_id", "channel", "customer_id"],
    set_={"last_message_at": _NEW_CONVERSATION.excluded.last_message_at},
).returning(*_CONVERSATION_COLUMNS)
_BY_CUSTOMER = select(*_CONVERSATION_COLUMNS).where(
    _CONVERSATION_OF_TENANT, _C.channel == bindparam("channel"), _C.customer_id == bindparam("customer_id")
)
_BY_CUSTOMER_LOCKED = _BY_CUSTOMER.with_for_update()
_LOCK = (
    select(*_CONVERSATION_COLUMNS).where(_CONVERSATION_OF_TENANT, _C.id == bindparam("conversation")).with_for_update()
)
_ONE_CONVERSATION = update(_CONVERSATIONS).where(_CONVERSATION_OF_TENANT, _C.id == bindparam("conversation"))
_SET_STATUS = _ONE_CONVERSATION.values(status=bindparam("new_status"))
_TOUCH = _ONE_CONVERSATION.values(last_message_at=func.now())
_CHANNEL_STATUS = text("SELECT status FROM gateway.channel_directory WHERE tenant_id = :t AND id = :id")

_ADD_INBOUND = (
    insert(_MESSAGES)
    .values(
        tenant_id=bindparam("tenant"),
        direction="in",
        author="customer",
        **_bound("conversation_id", "platform_message_id", "kind", "text", "attachments", "sent_at", "request_id"),
    )
    .on_conflict_do_nothing(
        index_elements=["tenant_id", "platform_message_id"], index_where=_M.platform_message_id.isnot(None)
    )
    .returning(_M.id)
)
_ADD_OUTBOUND = (
    insert(_MESSAGES)
    .values(
        tenant_id=bindparam("tenant"),
        direction="out",
        answered=True,
        **_bound("id", "conversation_id", "author", "text", "sources", "platform_message_id"),
    )
    .on_conflict_do_nothing(index_elements=["id"])
)
_UNANSWERED = (
    select(*_MESSAGE_COLUMNS)
    .where(_MESSAGE_OF_TENANT, _M.conversation_id == bindparam("conversation_id"), _M.direction == "in", ~_M.answered)
    .order_by(_M.created_at, _M.sent_at)
)
_RECENT = (
    select(*_MESSAGE_COLUMNS)
    .where(_MESSAGE_OF_TENANT, _M.conversation_id == bindparam("conversation_id"))
    .order_by(_M.created_at.desc(), _M.sent_at.desc())
    .limit(bindparam("limit"))
)
_MARK_ANSWERED = (
    update(_MESSAGES)
    .where(_MESSAGE_OF_TENANT, _M.id == any_(bindparam("message_ids", type_=ARRAY(Uuid()))))
    .values(answered=True)
)


class ConversationRepository(TenantRepository[Conversation]):
    model = Conversation

    async def get_or_create(
        self,
        channel: str,
        customer_id: str,
        *,
        channel_id: UUID | None,
        customer_name: str | None,
        last_message_at: datetime,
    ) -> ConversationState:
        """The conversation of one customer on one channel, created on first contact."""
        params = {
            "tenant": self.tenant_id,
            "channel": channel,
            "customer_id": customer_id,
            "channel_id": channel_id,
            "customer_name": customer_name,
            "last_message_at": last_message_at,
        }
        return ConversationState(*(await self.session.execute(_GET_OR_CREATE, params)).one())

    async def by_customer(self, channel: str, customer_id: str, *, lock: bool = False) -> ConversationState | None:
        """The conversation of a customer on a channel (locked for the transaction if asked)."""
        stmt = _BY_CUSTOMER_LOCKED if lock else _BY_CUSTOMER
        params = {"tenant": self.tenant_id, "channel": channel, "customer_id": customer_id}
        row = (await self.session.execute(stmt, params)).first()
        return None if row is None else ConversationState(*row)

    async def lock(self, conversation_id: UUID) -> ConversationState | None:
        """The conversation, locked until the transaction ends."""
        row = (await self.session.execute(_LOCK, {"tenant": self.tenant_id, "conversation": conversation_id})).first()
        return None if row is None else ConversationState(*row)

    async def set_status(self, conversation_id: UUID, status: str) -> None:
        """Move the conversation to `status`."""
        await self.session.execute(
            _SET_STATUS, {"tenant": self.tenant_id, "conversation": conversation_id, "new_status": status}
        )

    async def touch(self, conversation_id: UUID) -> None:
        """Record activity now."""
        await self.session.execute(_TOUCH, {"tenant": self.tenant_id, "conversation": conversation_id})

    async def channel_status(self, channel_id: UUID) -> str | None:
        """The channel's status in the gateway's channel directory (None: unknown)."""
        row = (await self.session.execute(_CHANNEL_STATUS, {"t": self.tenant_id, "id": channel_id})).first()
        return None if row is None else str(row[0])


class MessageRepository(TenantRepository[Message]):
    model = Message

    async def add_inbound(
        self,
        *,
        conversation_id: UUID,
        platform_message_id: str | None,
        kind: str,
        text: str | None,
        attachments: list[dict[str, Any]],
        sent_at: datetime,
        request_id: str | None,
    ) -> bool:
        """Store an inbound message; False when its platform id was already stored."""
        params = {
            "tenant": self.tenant_id,
            "conversation_id": conversation_id,
            "platform_message_id": platform_message_id,
            "kind": kind,
            "text": text,
            "attachments": attachments,
            "sent_at": sent_at,
            "request_id": request_id,
        }
        return (await self.session.execute(_ADD_INBOUND, params)).first() is not None

    async def add_outbound(
        self,
        message_id: UUID | None = None,
        *,
        conversation_id: UUID,
        author: str,
        text: str | None,
        sources: list[dict[str, Any]] | None = None,
        platform_message_id: str | None = None,
    ) -> UUID:
        """Store a reply (bot or human); its id. The same reply stored twice is stored once."""
        message_id = message_id or uuid4()
        params = {
            "id": message_id,
            "tenant": self.tenant_id,
            "conversation_id": conversation_id,
            "author": author,
            "text": text,
            "sources": sources or [],
            "platform_message_id": platform_message_id,
        }
        await self.session.execute(_ADD_OUTBOUND, params)
        return message_id

    async def unanswered(self, conversation_id: UUID) -> list[StoredMessage]:
        """Inbound messages still waiting for a turn, oldest first."""
        params = {"tenant": self.tenant_id, "conversation_id": conversation_id}
        return [StoredMessage(*row) for row in await self.session.execute(_UNANSWERED, params)]

    async def recent(self, conversation_id: UUID, limit: int) -> list[StoredMessage]:
        """The last `limit` messages, oldest first."""
        params = {"tenant": self.tenant_id, "conversation_id": conversation_id, "limit": limit}
        rows = [StoredMessage(*row) for row in await self.session.execute(_RECENT, params)]
        rows.reverse()
        return rows

    async def mark_answered(self, ids: Sequence[UUID]) -> None:
        """These inbound messages have had their turn."""
        if ids:
            await self.session.execute(_MARK_ANSWERED, {"tenant": self.tenant_id, "message_ids": list(ids)})
