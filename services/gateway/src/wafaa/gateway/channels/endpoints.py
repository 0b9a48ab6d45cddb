"""`/api/v1/channels`: connect WhatsApp numbers and Instagram accounts (owners and admins)."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Body, Request, status

from wafaa.common.meta import GraphClient
from wafaa.common.secrets import SecretBox
from wafaa.gateway.auth.dependencies import Manager
from wafaa.gateway.channels import service
from wafaa.gateway.channels.repository import ChannelRepository
from wafaa.gateway.channels.schemas import ChannelCreate, ChannelCreated, ChannelRead, ChannelTestResult, ChannelUpdate

router = APIRouter(prefix="/api/v1/channels", tags=["channels"])
ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "Not authenticated"},
    403: {"description": "Role not allowed"},
}
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "No such channel"}}


def _box(request: Request) -> SecretBox:
    box: SecretBox = request.app.state.secret_box
    return box


def _base(request: Request) -> str:
    return str(request.app.state.settings.public_base_url)


@router.get("", responses=ERRORS)
async def list_channels(principal: Manager, request: Request) -> list[ChannelRead]:
    """The tenant's channels, with token expiry warnings."""
    channels = await ChannelRepository(principal.session, principal.tenant_id).all()
    return [service.to_read(c, _base(request)) for c in channels]


@router.post("", status_code=status.HTTP_201_CREATED, responses={**ERRORS, 409: {"description": "Already connected"}})
async def create_channel(
    body: Annotated[ChannelCreate, Body()], principal: Manager, request: Request
) -> ChannelCreated:
    """Connect a WhatsApp number or an Instagram account; the answer says what to paste into Meta."""
    return await service.create(
        principal.session, principal.tenant_id, body, _box(request), principal.actor, _base(request)
    )


@router.get("/{channel_id}", responses={**ERRORS, **NOT_FOUND})
async def get_channel(channel_id: UUID, principal: Manager, request: Request) -> ChannelRead:
    """One channel."""
    return service.to_read(await service.get(principal.session, principal.tenant_id, channel_id), _base(request))


@router.patch("/{channel_id}", responses={**ERRORS, **NOT_FOUND})
async def update_channel(channel_id: UUID, body: ChannelUpdate, principal: Manager, request: Request) -> ChannelRead:
    """Rename, rotate the token or secrets, pause or resume."""
    channel = await service.update(
        principal.session, principal.tenant_id, channel_id, body, _box(request), principal.actor
    )
    return service.to_read(channel, _base(request))


@router.delete("/{channel_id}", status_code=status.HTTP_204_NO_CONTENT, responses={**ERRORS, **NOT_FOUND})
async def delete_channel(channel_id: UUID, principal: Manager) -> None:
    """Disconnect a channel."""
    await service.delete(principal.session, principal.tenant_id, channel_id, principal.actor)


@router.post("/{channel_id}/test", responses={**ERRORS, **NOT_FOUND})
async def test_channel(channel_id: UUID, principal: Manager, request: Request) -> ChannelTestResult:
    """Check the channel's token against the Graph API (changes nothing)."""
    channel = await service.get(principal.session, principal.tenant_id, channel_id)
    graph: GraphClient = request.app.state.graph
    return await service.test_token(channel, _box(request), graph)
