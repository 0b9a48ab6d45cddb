"""The built admin dashboard (a single-page app) at `/`, with a fallback to its index.html.

It is the router's default app: it answers only what no route or mount matched (so a wrong method
on an API path still gets its 405), only GET and HEAD, and never a path under `/api`, `/docs`,
`/openapi.json`, `/asyncapi`, `/metrics`, `/health` or `/ready`, which keep their JSON 404.
"""

from __future__ import annotations

import logging
from pathlib import Path

from fastapi import FastAPI
from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

logger = logging.getLogger(__name__)

RESERVED = ("/api", "/docs", "/redoc", "/openapi.json", "/asyncapi", "/metrics", "/health", "/ready")


def is_reserved(path: str) -> bool:
    """Whether a path belongs to the API side (never answered with the dashboard)."""
    return any(path == prefix or path.startswith(prefix + "/") or path.startswith(prefix + ".") for prefix in RESERVED)


class SpaFiles(StaticFiles):
    """Static files, and index.html for any other GET so client-side routes survive a reload."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        try:
            response = await super().get_response(path, scope)
        except HTTPException as exc:
            if exc.status_code != 404 or "." in Path(path).name:
                raise  # a missing asset stays a 404
            return await self._index(scope)
        if path in ("", ".", "index.html"):
            response.headers["Cache-Control"] = "no-cache"
        elif path.startswith("assets/"):
            response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
        return response

    async def _index(self, scope: Scope) -> Response:
        response = await super().get_response("index.html", scope)
        response.headers["Cache-Control"] = "no-cache"
        return response


def mount_dashboard(app: FastAPI, directory: Path) -> bool:
    """Serve the dashboard for whatever no route matches, when it has been built."""
    if not (directory / "index.html").is_file():
        logger.info("no dashboard build at %s; `/` is not served", directory)
        return False
    files = SpaFiles(directory=directory, html=True)
    not_found: ASGIApp = app.router.default

    async def fallback(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] in ("GET", "HEAD") and not is_reserved(scope["path"]):
            await files(scope, receive, send)
        else:
            await not_found(scope, receive, send)

    app.router.default = fallback
    return True
