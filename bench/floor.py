"""The floors of the HTTP benchmarks: a bare ASGI app on uvicorn, no framework, one endpoint.

`python -m bench.floor` with PORT and FLOOR_KIND set:
- `auth`: `GET /api/v1/auth/me` answers FLOOR_BODY (the gateway's JSON body for the same user), no checks.
- `webhook`: `POST /api/v1/webhooks/whatsapp` reads the raw body, verifies `X-Hub-Signature-256` with
  `wafaa.gateway.webhooks.signature.signature_is_valid` and the dev app secret, and answers 200 with the
  gateway's JSON shape (401 when the signature does not match).
- `webhook-store`: the least a webhook answer that is stored first can do: the `webhook` floor plus
  `json.loads` of the body and an `XADD` of the raw bytes to FLOOR_STREAM on REDIS_URL with a plain
  redis-py client, then 200. The appends made in one turn of the event loop go out as one pipeline (a
  group commit, as the gateway batches its own); with one command per request instead this floor ran at
  about a third of the `webhook` floor's rate (`bench.webhooks`, 2026-11-27). Not the floor the issue
  names, but what storing a webhook before answering costs by itself on the same machine.
- `auth-fastapi`: not a floor but the framework's own share: a FastAPI app with that one route returning
  FLOOR_BODY as a `Response`, no dependencies or middleware, so the auth benchmark can show how much of the
  gap is FastAPI itself.
All answer `GET /ready` with 200 so `tests.fixtures.processes.ServiceProcess.wait_ready` works.
uvicorn runs as the gateway does (`loop`/`http` auto: uvloop + httptools, no access log, one process).
"""

from __future__ import annotations

import asyncio
import json
import os
from typing import Any

import uvicorn
from redis.asyncio import Redis

from wafaa.gateway.config import DEV_META_APP_SECRET
from wafaa.gateway.webhooks.signature import signature_is_valid

JSON_HEADERS = [(b"content-type", b"application/json")]
WEBHOOK_OK = b'{"status":"ok","accepted":1,"duplicates":0}'
WEBHOOK_BAD = b'{"error":{"code":"invalid_signature"}}'
STREAM_MAXLEN = 1_000_000  # the gateway's default stream bound


async def _answer(send: Any, status: int, body: bytes) -> None:
    headers = [*JSON_HEADERS, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _read_body(receive: Any) -> bytes:
    chunks = []
    more = True
    while more:
        message = await receive()
        chunks.append(message.get("body", b""))
        more = message.get("more_body", False)
    return b"".join(chunks)


class GroupCommit:
    """`await append(raw)` returns once Redis has the entry; the appends of one loop turn share a pipeline."""

    def __init__(self, redis: Redis, stream: str) -> None:
        self.redis, self.stream = redis, stream
        self.pending: list[tuple[bytes, asyncio.Future[Any]]] = []
        self.sending: set[asyncio.Task[None]] = set()

    async def append(self, raw: bytes) -> None:
        loop = asyncio.get_running_loop()
        done = loop.create_future()
        self.pending.append((raw, done))
        if len(self.pending) == 1:
            loop.call_soon(self._flush)
        await done

    def _flush(self) -> None:
        task = asyncio.ensure_future(self._send(self.pending))
        self.pending = []
        self.sending.add(task)
        task.add_done_callback(self.sending.discard)

    async def _send(self, batch: list[tuple[bytes, asyncio.Future[Any]]]) -> None:
        try:
            async with self.redis.pipeline(transaction=False) as pipeline:
                for raw, _ in batch:
                    pipeline.xadd(self.stream, {"data": raw}, maxlen=STREAM_MAXLEN, approximate=True)
                await pipeline.execute()
        except Exception as exc:  # every caller answers an error
            for _, done in batch:
                done.set_exception(exc)
            return
        for _, done in batch:
            done.set_result(None)


def make_app(kind: str, body: bytes) -> Any:
    """The floor ASGI app for `kind` ("auth", "webhook" or "webhook-store")."""
    store = (
        GroupCommit(Redis.from_url(os.environ["REDIS_URL"]), os.environ["FLOOR_STREAM"])
        if kind == "webhook-store"
        else None
    )

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        path = scope["path"]
        if path == "/ready":
            await _answer(send, 200, b'{"status":"ready"}')
        elif kind == "auth" and path == "/api/v1/auth/me":
            await _answer(send, 200, body)
        elif kind.startswith("webhook") and path == "/api/v1/webhooks/whatsapp":
            raw = await _read_body(receive)
            signature = dict(scope["headers"]).get(b"x-hub-signature-256", b"").decode()
            if not signature_is_valid(raw, signature, DEV_META_APP_SECRET):
                await _answer(send, 401, WEBHOOK_BAD)
                return
            if store is not None:
                json.loads(raw)
                await store.append(raw)
            await _answer(send, 200, WEBHOOK_OK)
        else:
            await _answer(send, 404, b'{"error":{"code":"not_found"}}')

    return app


def make_fastapi_app(body: bytes) -> Any:
    """A minimal FastAPI app answering `body` on `GET /api/v1/auth/me` (the framework's own cost)."""
    from fastapi import FastAPI, Response

    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)

    @app.get("/ready")
    async def ready() -> Response:
        return Response(b'{"status":"ready"}', media_type="application/json")

    @app.get("/api/v1/auth/me")
    async def me() -> Response:
        return Response(body, media_type="application/json")

    return app


def main() -> None:
    kind, body = os.environ.get("FLOOR_KIND", "auth"), os.environ.get("FLOOR_BODY", "{}").encode()
    app = make_fastapi_app(body) if kind == "auth-fastapi" else make_app(kind, body)
    uvicorn.run(app, host="127.0.0.1", port=int(os.environ["PORT"]), log_config=None, access_log=False)


if __name__ == "__main__":
    main()
