"""Connecting, changing, testing and pausing channels."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from wafaa.common.meta import Credentials, GraphClient, GraphError
from wafaa.common.secrets import SecretBox, last4
from wafaa.gateway.audit import service as audit
from wafaa.gateway.audit.service import Actor
from wafaa.gateway.channels.models import Channel
from wafaa.gateway.channels.repository import ChannelRepository
from wafaa.gateway.channels.schemas import (
    ChannelCreate,
    ChannelCreated,
    ChannelRead,
    ChannelTestResult,
    ChannelUpdate,
    WhatsAppChannelCreate,
)
from wafaa.gateway.errors import ApiError

EXPIRY_WARNING = timedelta(days=7)


def not_found() -> ApiError:
    """The same answer for a missing channel and another tenant's."""
    return ApiError(404, "channel_not_found", "No such channel.")


def to_read(channel: Channel, public_base_url: str) -> ChannelRead:
    """The API view of a channel: secrets reduced to "set" and their last four characters."""
    expires = channel.token_expires_at
    return ChannelRead(
        id=channel.id,
        platform=channel.platform,  # type: ignore[arg-type]
        external_account_id=channel.external_account_id,
        name=channel.name,
        waba_id=channel.waba_id,
        display_phone_number=channel.display_phone_number,
        page_id=channel.page_id,
        access_token=channel.access_token_last4,
        app_secret_set=channel.app_secret_encrypted is not None,
        own_verify_token=channel.verify_token_encrypted is not None,
        status=channel.status,  # type: ignore[arg-type]
        paused_reason=channel.paused_reason,
        token_expires_at=expires,
        token_expiring_soon=expires is not None and expires - datetime.now(UTC) < EXPIRY_WARNING,
        webhook_url=f"{public_base_url.rstrip('/')}/api/v1/webhooks/{channel.platform}",
        created_at=channel.created_at,
        updated_at=channel.updated_at,
    )


async def get(session: AsyncSession, tenant_id: UUID, channel_id: UUID) -> Channel:
    """One of the tenant's channels, or 404."""
    channel = await ChannelRepository(session, tenant_id).get(channel_id)
    if channel is None:
        raise not_found()
    return channel


async def create(
    session: AsyncSession, tenant_id: UUID, body: ChannelCreate, box: SecretBox, actor: Actor, public_base_url: str
) -> ChannelCreated:
    """Connect a number or account; a number already connected (by anyone) is refused with 409."""
    account = body.phone_number_id if isinstance(body, WhatsAppChannelCreate) else body.instagram_account_id
    verify_token = body.verify_token or (secrets.token_urlsafe(24) if body.app_secret else None)
    channel = Channel(
        tenant_id=tenant_id,
        platform=body.platform,
        external_account_id=account,
        name=body.name,
        waba_id=getattr(body, "waba_id", None),
        display_phone_number=getattr(body, "display_phone_number", None),
        page_id=getattr(body, "page_id", None),
        access_token_encrypted=box.encrypt(body.access_token),
        access_token_last4=last4(body.access_token),
        app_secret_encrypted=box.encrypt(body.app_secret) if body.app_secret else None,
        verify_token_encrypted=box.encrypt(verify_token) if verify_token else None,
    )
    try:
        async with session.begin_nested():
            ChannelRepository(session, tenant_id).add(channel)
            await session.flush()
    except IntegrityError as exc:
        raise ApiError(409, "channel_taken", "This number or account is already connected.") from exc
    await audit.record(
        session, tenant_id, actor, "channel.created", "channel", channel.id,
        {"platform": channel.platform, "external_account_id": account, "access_token": "set",
         "app_secret": "set" if body.app_secret else None},
    )  # fmt: skip
    read = to_read(channel, public_base_url)
    return ChannelCreated(**read.model_dump(), verify_token=verify_token)


async def update(
    session: AsyncSession, tenant_id: UUID, channel_id: UUID, body: ChannelUpdate, box: SecretBox, actor: Actor
) -> Channel:
    """Rename, rotate the token or secrets, pause or resume."""
    channel = await get(session, tenant_id, channel_id)
    changes: dict[str, Any] = {}
    fields = body.model_dump(exclude_unset=True)
    if "name" in fields:
        channel.name = changes["name"] = body.name
    if body.access_token:
        channel.access_token_encrypted = box.encrypt(body.access_token)
        channel.access_token_last4 = last4(body.access_token)
        changes["access_token"] = "rotated"  # noqa: S105 - a change label, not a secret
    if body.app_secret:
        channel.app_secret_encrypted = box.encrypt(body.app_secret)
        changes["app_secret"] = "rotated"  # noqa: S105 - a change label, not a secret
    if body.verify_token:
        channel.verify_token_encrypted = box.encrypt(body.verify_token)
        changes["verify_token"] = "rotated"  # noqa: S105 - a change label, not a secret
    if "token_expires_at" in fields:
        channel.token_expires_at = body.token_expires_at
        changes["token_expires_at"] = body.token_expires_at.isoformat() if body.token_expires_at else None
    if body.status and body.status != channel.status:
        channel.status = changes["status"] = body.status
        channel.paused_reason = "paused by an admin" if body.status == "paused" else None
    await session.flush()
    await audit.record(session, tenant_id, actor, "channel.updated", "channel", channel.id, changes)
    return channel


async def delete(session: AsyncSession, tenant_id: UUID, channel_id: UUID, actor: Actor) -> None:
    """Disconnect a channel: its webhooks are dropped from now on."""
    channel = await get(session, tenant_id, channel_id)
    await session.delete(channel)
    await audit.record(
        session, tenant_id, actor, "channel.deleted", "channel", channel_id,
        {"platform": channel.platform, "external_account_id": channel.external_account_id},
    )  # fmt: skip


async def test_token(channel: Channel, box: SecretBox, graph: GraphClient) -> ChannelTestResult:
    """Ask the Graph API whether the token works for this account."""
    creds = Credentials(channel.platform, channel.external_account_id, box.decrypt(channel.access_token_encrypted))  # type: ignore[arg-type]
    try:
        account = await graph.check_token(creds)
    except GraphError as exc:
        message = {
            "token_expired": "The access token is expired or invalid: generate a new one and update the channel.",
        }.get(exc.action, f"Meta refused the check: {exc.message}")
        return ChannelTestResult(ok=False, error_code=str(exc.code) if exc.code is not None else None, message=message)
    return ChannelTestResult(
        ok=True, account={k: str(v) for k, v in account.items() if k in ("id", "name", "verified_name", "username")},
        message="The token works for this account.",
    )  # fmt: skip


async def pause_for_expired_token(session: AsyncSession, tenant_id: UUID, channel_id: UUID, reason: str) -> None:
    """The sender saw Meta refuse the token: pause the channel and leave a trace for the admins."""
    channel = await ChannelRepository(session, tenant_id).get(channel_id)
    if channel is None or channel.status == "paused":
        return
    channel.status, channel.paused_reason = "paused", reason
    await audit.record(
        session, tenant_id, Actor(type="system", label="channels"), "channel.paused", "channel", channel_id,
        {"status": "paused", "reason": reason},
    )  # fmt: skip
