"""Meta's webhook deliveries (`POST /api/v1/webhooks/{whatsapp,instagram}`) served in plain ASGI.

`WebhookIngress` stands in front of the whole FastAPI application (see `GatewayApp` in main.py), inside
only the request-id middleware, and answers the two delivery paths itself; every other request goes on to
FastAPI. A delivery needs none of what FastAPI adds (no JWT, no validation model, no dependencies), yet
FastAPI's layers cost a third or more of the gateway's CPU per webhook. `python -m bench.webhooks`,
alternating runs on one machine:
- inside FastAPI's middleware stack, ahead of its routing: 3,660-3,720 webhooks/s at full speed and
  270 µs of CPU per webhook, against 2,350-2,390/s and 413-423 µs through a FastAPI route;
- in front of FastAPI's own entry (its telemetry check and its error, telemetry and body-limit layers run
  for every request), a later run: 176-221 µs per webhook against 217-257 µs inside the stack (the
  machine was noisy that day: the same code varied by a quarter from run to run).
The routes in `endpoints.py` document the same operations in the OpenAPI schema and answer through the
same `deliver`, so both ways give the same statuses and bodies; an unexpected error is answered 500
`internal_error` here as FastAPI's handler answers it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from starlette.datastructures import State
from starlette.types import ASGIApp, Receive, Scope, Send

from wafaa.gateway.errors import ApiError, error_body, internal_error_body
from wafaa.gateway.webhooks.parsing import Platform
from wafaa.gateway.webhooks.service import WebhookIntake

logger = logging.getLogger(__name__)

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
    """Pure ASGI middleware answering POSTs to the webhook paths; everything else passes through.

    `state` is the application's state, holding `webhooks` (the intake) and `settings` once the app is built.
    """

    def __init__(self, app: ASGIApp, state: State) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        platform = PATHS.get(scope["path"]) if scope["type"] == "http" and scope["method"] == "POST" else None
        if platform is None:
            await self.app(scope, receive, send)
            return
        try:
            answer = await deliver(
                self.state.webhooks,
                platform,
                dict(scope["headers"]),
                receive,
                self.state.settings.webhook_max_body_bytes,
                scope.get("state", {}).get("request_id"),
            )
        except Exception:
            logger.exception("unexpected error while taking a webhook")
            answer = Answer(500, internal_error_body())
        payload = json.dumps(answer.body, separators=(",", ":")).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
        headers += [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in answer.headers.items()]
        await send({"type": "http.response.start", "status": answer.status, "headers": headers})
        await send({"type": "http.response.body", "body": payload})


async def _raw_body(headers: Mapping[bytes, bytes], receive: Receive, limit: int) -> bytes:
    declared = headers.get(b"content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ApiError(400, "client_disconnected", "The client closed the connection before the body ended.")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _too_large(limit: int) -> ApiError:
    return ApiError(413, "too_large", f"Webhook bodies are limited to {limit} bytes.")
