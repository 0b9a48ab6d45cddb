"""Request ids: taken from `X-Request-ID` when sane, generated otherwise, echoed and logged."""

from __future__ import annotations

import re
import secrets
from typing import Any

from wafaa.common.observability.logging import log_context

_SAFE = re.compile(r"^[A-Za-z0-9._-]{1,100}$")


class RequestIdMiddleware:
    """Pure ASGI middleware (no per-request task overhead) binding the request id to logs."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        request_id = incoming if _SAFE.match(incoming) else secrets.token_hex(16)  # as uuid4().hex, cheaper
        scope.setdefault("state", {})["request_id"] = request_id

        async def send_with_id(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", []).append((b"x-request-id", request_id.encode()))
            await send(message)

        with log_context(request_id=request_id):
            await self.app(scope, receive, send_with_id)
