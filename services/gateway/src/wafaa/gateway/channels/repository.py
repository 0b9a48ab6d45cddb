"""Queries on channels, and the two narrow lookups made before any tenant is known."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from wafaa.common.db import TenantRepository
from wafaa.gateway.channels.models import Channel, WebhookRoute


class ChannelRepository(TenantRepository[Channel]):
    model = Channel

    async def all(self) -> Sequence[Channel]:
        """The tenant's channels, oldest first."""
        return (await self.session.execute(self.select().order_by(Channel.created_at))).scalars().all()


async def route_webhook(session: AsyncSession, platform: str, account_id: str) -> WebhookRoute | None:
    """Which tenant's channel a webhook's phone number id / Instagram account id is (SECURITY DEFINER)."""
    row = (
        await session.execute(text("SELECT * FROM gateway.route_webhook(:p, :a)"), {"p": platform, "a": account_id})
    ).first()
    if row is None:
        return None
    return WebhookRoute(row.tenant_id, row.channel_id, row.status, row.app_secret_encrypted)


async def verify_tokens(session: AsyncSession, platform: str) -> list[str]:
    """The encrypted verify tokens of the channels that bring their own Meta app."""
    rows = await session.execute(text("SELECT * FROM gateway.webhook_verify_tokens(:p)"), {"p": platform})
    return [r.verify_token_encrypted for r in rows]
