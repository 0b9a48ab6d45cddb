"""`/api/v1/webhooks/{whatsapp,instagram}`: Meta's handshake and deliveries (public, no JWT)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse

from wafaa.gateway.webhooks.ingress import deliver
from wafaa.gateway.webhooks.parsing import Platform
from wafaa.gateway.webhooks.service import WebhookIntake

router = APIRouter(prefix="/api/v1/webhooks", tags=["webhooks"])


def _intake(request: Request) -> WebhookIntake:
    intake: WebhookIntake = request.app.state.webhooks
    return intake


async def _handshake(
    request: Request, platform: Platform, mode: str | None, token: str | None, challenge: str
) -> PlainTextResponse:
    if await _intake(request).handshake_ok(platform, mode, token):
        return PlainTextResponse(challenge)
    return PlainTextResponse("verification failed", status_code=403)


async def _deliver(request: Request, platform: Platform) -> JSONResponse:
    """What `WebhookIngress` answers; reached here only by an app built without it (not `GatewayApp`)."""
    answer = await deliver(
        _intake(request),
        platform,
        dict(request.scope["headers"]),
        request.receive,
        request.app.state.settings.webhook_max_body_bytes,
        getattr(request.state, "request_id", None),
    )
    return JSONResponse(answer.body, status_code=answer.status, headers=answer.headers)


@router.get("/whatsapp", response_class=PlainTextResponse, responses={403: {"description": "Token mismatch"}})
async def whatsapp_handshake(
    request: Request,
    mode: Annotated[str | None, Query(alias="hub.mode")] = None,
    token: Annotated[str | None, Query(alias="hub.verify_token")] = None,
    challenge: Annotated[str, Query(alias="hub.challenge", max_length=500)] = "",
) -> PlainTextResponse:
    """Meta's subscription check: echoes the challenge when the verify token matches."""
    return await _handshake(request, "whatsapp", mode, token, challenge)


@router.get("/instagram", response_class=PlainTextResponse, responses={403: {"description": "Token mismatch"}})
async def instagram_handshake(
    request: Request,
    mode: Annotated[str | None, Query(alias="hub.mode")] = None,
    token: Annotated[str | None, Query(alias="hub.verify_token")] = None,
    challenge: Annotated[str, Query(alias="hub.challenge", max_length=500)] = "",
) -> PlainTextResponse:
    """Meta's subscription check for Instagram."""
    return await _handshake(request, "instagram", mode, token, challenge)


# The two delivery routes describe the operations in the OpenAPI schema; in the running app
# `WebhookIngress` (webhooks/ingress.py) answers these requests before FastAPI sees them, through the
# same `deliver`.
WEBHOOK_RESPONSES: dict[int | str, dict[str, object]] = {
    401: {"description": "Signature mismatch"},
    413: {"description": "Body over the limit"},
    503: {"description": "Could not store the events; Meta retries"},
}


@router.post("/whatsapp", responses=WEBHOOK_RESPONSES)  # type: ignore[arg-type]
async def whatsapp_webhook(request: Request) -> JSONResponse:
    """WhatsApp Cloud API deliveries: answered 200 only once the events are in the streams."""
    return await _deliver(request, "whatsapp")


@router.post("/instagram", responses=WEBHOOK_RESPONSES)  # type: ignore[arg-type]
async def instagram_webhook(request: Request) -> JSONResponse:
    """Instagram messaging deliveries."""
    return await _deliver(request, "instagram")
