"""`POST /api/v1/chat` and its server-sent-events twin, for the dashboard's test chat."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from wafaa.gateway.auth.dependencies import Manager
from wafaa.gateway.chat import service
from wafaa.gateway.chat.schemas import ChatReply, ChatRequest

router = APIRouter(prefix="/api/v1/chat", tags=["chat"])
ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "Not authenticated"},
    403: {"description": "Role not allowed"},
    404: {"description": "No such conversation"},
    504: {"description": "The concierge did not answer in time (`chat_timeout`)"},
}


def _timeout(request: Request) -> float:
    return float(getattr(request.app.state.settings, "chat_timeout_seconds", 30.0))


@router.post("", responses=ERRORS)
async def chat(body: ChatRequest, principal: Manager, request: Request) -> ChatReply:
    """Ask the concierge as a customer would; the reply with its sources."""
    state = request.app.state
    pending = await service.send(principal, state.redis, state.publisher, body, _timeout(request))
    return await service.wait_reply(pending)


@router.post("/stream", responses=ERRORS, response_class=StreamingResponse)
async def chat_stream(body: ChatRequest, principal: Manager, request: Request) -> StreamingResponse:
    """The same as server-sent events: `token` events as generated, then one `reply`."""
    state = request.app.state
    pending = await service.send(principal, state.redis, state.publisher, body, _timeout(request))
    return StreamingResponse(
        service.stream_events(pending),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
