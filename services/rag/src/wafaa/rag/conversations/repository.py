"""Queries on conversations and messages."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects.postgresql import insert

from wafaa.common.db import TenantRepository
from wafaa.rag.conversations.models import Conversation, Message


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
