"""Queries on conversations and messages."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from sqlalchemy import func, text
from sqlalchemy.dialects.postgresql import insert

from wafaa.common.db import TenantRepository
from wafaa.rag.conversations.models import Conversation, Message

_CHANNEL_STATUS = text("SELECT status FROM gateway.channel_directory WHERE tenant_id = :t AND id = :id")


class ConversationRepository(TenantRepository[Conversation]):
    model = Conversation

    async def get_or_create(self, channel: str, customer_id: str, **fields: Any) -> Conversation:
        """The conversation of one customer on one channel, created on first contact."""
        stmt = (
            insert(Conversation)
            .values(tenant_id=self.tenant_id, channel=channel, customer_id=customer_id, **fields)
            .on_conflict_do_update(
                index_elements=["tenant_id", "channel", "customer_id"],
                set_={"last_message_at": fields.get("last_message_at", Conversation.last_message_at)},
            )
            .returning(Conversation)
        )
        conversation: Conversation = (await self.session.execute(stmt)).scalar_one()
        return conversation

    async def by_customer(self, channel: str, customer_id: str, *, lock: bool = False) -> Conversation | None:
        """The conversation of a customer on a channel (locked for the transaction if asked)."""
        stmt = self.select().where(Conversation.channel == channel, Conversation.customer_id == customer_id)
        if lock:
            stmt = stmt.with_for_update()
        found: Conversation | None = (await self.session.execute(stmt)).scalar_one_or_none()
        return found

    async def lock(self, conversation_id: UUID) -> Conversation | None:
        """The conversation, locked until the transaction ends."""
        stmt = self.select().where(Conversation.id == conversation_id).with_for_update()
        found: Conversation | None = (await self.session.execute(stmt)).scalar_one_or_none()
        return found

    async def set_status(self, conversation_id: UUID, status: str) -> None:
        """Move the conversation to `status`."""
        await self.session.execute(self.update().where(Conversation.id == conversation_id).values(status=status))

    async def touch(self, conversation_id: UUID) -> None:
        """Record activity now."""
        await self.session.execute(
            self.update().where(Conversation.id == conversation_id).values(last_message_at=func.now())
        )

    async def channel_status(self, channel_id: UUID) -> str | None:
        """The channel's status in the gateway's channel directory (None: unknown)."""
        row = (await self.session.execute(_CHANNEL_STATUS, {"t": self.tenant_id, "id": channel_id})).first()
        return None if row is None else str(row[0])


class MessageRepository(TenantRepository[Message]):
    model = Message

    async def add_inbound(self, **fields: Any) -> bool:
        """Store an inbound message; False when its platform id was already stored."""
        stmt = (
            insert(Message)
            .values(tenant_id=self.tenant_id, direction="in", author="customer", **fields)
            .on_conflict_do_nothing(
                index_elements=["tenant_id", "platform_message_id"],
                index_where=Message.platform_message_id.isnot(None),
            )
            .returning(Message.id)
        )
        return (await self.session.execute(stmt)).first() is not None

    async def add_outbound(self, message_id: UUID | None = None, **fields: Any) -> Message:
        """Store a reply (bot or human); returns the row."""
        values: dict[str, Any] = {"direction": "out", "answered": True, **fields}
        if message_id is not None:
            values["id"] = message_id
        stmt = (
            insert(Message)
            .values(tenant_id=self.tenant_id, **values)
            .on_conflict_do_nothing(index_elements=["id"])
            .returning(Message)
        )
        row: Message | None = (await self.session.execute(stmt)).scalar_one_or_none()
        if row is None:  # the same agent reply delivered twice
            row = await self.get(message_id)
        assert row is not None
        return row

    async def unanswered(self, conversation_id: UUID) -> Sequence[Message]:
        """Inbound messages still waiting for a turn, oldest first."""
        stmt = (
            self.select()
            .where(Message.conversation_id == conversation_id, Message.direction == "in", ~Message.answered)
            .order_by(Message.created_at, Message.sent_at)
        )
        rows: Sequence[Message] = (await self.session.execute(stmt)).scalars().all()
        return rows

    async def recent(self, conversation_id: UUID, limit: int) -> list[Message]:
        """The last `limit` messages, oldest first."""
        stmt = (
            self.select()
            .where(Message.conversation_id == conversation_id)
            .order_by(Message.created_at.desc(), Message.sent_at.desc())
            .limit(limit)
        )
        rows = list((await self.session.execute(stmt)).scalars().all())
        rows.reverse()
        return rows

    async def mark_answered(self, ids: Sequence[UUID]) -> None:
        """These inbound messages have had their turn."""
        if ids:
            await self.session.execute(self.update().where(Message.id.in_(list(ids))).values(answered=True))
