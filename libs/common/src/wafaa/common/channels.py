"""The read interface of the gateway's channel records, for the services that send on them.

The gateway owns `gateway.channels`; it exposes `gateway.channel_directory` (a security-invoker
view, so row-level security applies to the reader) and nobody else writes there.
"""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from wafaa.common.meta.client import Credentials, Platform
from wafaa.common.secrets import SecretBox

_BY_ID = text(
    "SELECT id, platform, external_account_id, access_token_encrypted, status "
    "FROM gateway.channel_directory WHERE id = :id"
)


SENT_MARKER_TTL = 8 * 24 * 3600  # Meta re-delivers webhooks (echoes of our sends too) for up to 7 days


def sent_marker(tenant_id: UUID, platform_message_id: str) -> str:
    """Redis key the sender sets for each message it sent, so the gateway can drop its echoes."""
    return f"tenant:{tenant_id}:sent:{platform_message_id}"


@dataclass(frozen=True)
class ChannelRecord:
    id: UUID
    platform: Platform
    account_id: str
    credentials: Credentials
    status: str

    @property
    def paused(self) -> bool:
        return self.status != "active"


class ChannelDirectory:
    """Looks up a channel of the current tenant (the transaction's `app.tenant_id`)."""

    def __init__(self, box: SecretBox) -> None:
        self._box = box

    async def get(self, session: AsyncSession, channel_id: UUID) -> ChannelRecord | None:
        """The channel with its decrypted token, or None (unknown, or another tenant's)."""
        row = (await session.execute(_BY_ID, {"id": channel_id})).first()
        if row is None:
            return None
        token = self._box.decrypt(row.access_token_encrypted)
        creds = Credentials(row.platform, row.external_account_id, token)
        return ChannelRecord(row.id, row.platform, row.external_account_id, creds, row.status)
