"""Errors as JSON with a stable `code` and a human `message`; never a stack trace."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException

from wafaa.common.db.cursor import InvalidCursorError

logger = logging.getLogger(__name__)


class ApiError(Exception):
    """An error the API answers with its own status and code."""

    def __init__(
        self, status: int, code: str, message: str, details: Any = None, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.headers = headers
        self.status = status
        self.code = code
        self.message = message
        self.details = details


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    body: dict[str, Any] = {"code": code, "message": message}
    if details is not None:
        body["details"] = details
    return body


def internal_error_body() -> dict[str, Any]:
    """The 500 body for an unexpected error: no detail of it leaves the server."""
    return error_body("internal_error", "Something went wrong on our side.")


# FastAPI answers 400 itself, before any validation, when it cannot decode a body (JSON that is not
# UTF-8, broken multipart framing); every operation that takes a body documents it.
UNREADABLE_BODY: dict[str, Any] = {"description": "The body could not be decoded (not UTF-8 JSON, broken multipart)"}
_HTTP_CODES = {404: "not_found", 405: "method_not_allowed", 401: "unauthorized", 403: "forbidden", 413: "too_large"}


def install_error_handlers(app: FastAPI) -> None:
    """Register the JSON error shape on every error path."""

    @app.exception_handler(ApiError)
    async def api_error(_: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(error_body(exc.code, exc.message, exc.details), status_code=exc.status, headers=exc.headers)

    @app.exception_handler(InvalidCursorError)
    async def invalid_cursor(_: Request, exc: InvalidCursorError) -> JSONResponse:
        return JSONResponse(error_body("invalid_cursor", "The cursor is not valid."), status_code=422)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        details = [
            {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")} for e in exc.errors()
        ]
        return JSONResponse(error_body("validation_error", "The request is not valid.", details), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _HTTP_CODES.get(exc.status_code, f"http_{exc.status_code}")
        return JSONResponse(error_body(code, str(exc.detail)), status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(DBAPIError)
    async def database_error(_: Request, exc: DBAPIError) -> JSONResponse:
        # SQLSTATE class 22, "data exception": Postgres (or asyncpg encoding a parameter) refused a value
        # the request brought in, such as a NUL character in text or a date beyond the supported range.
        sqlstate = str(getattr(exc.orig, "sqlstate", None) or "")
        if sqlstate.startswith("22"):
            logger.warning("the database refused a value of the request (SQLSTATE %s): %s", sqlstate, exc.orig)
            message = "A value in the request cannot be stored or searched (a NUL character, a date out of range)."
            return JSONResponse(error_body("invalid_value", message), status_code=422)
        logger.exception("unhandled database error")
        return JSONResponse(internal_error_body(), status_code=500)

    @app.exception_handler(Exception)
    async def unexpected(_: Request, exc: Exception) -> JSONResponse:
        logger.exception("unhandled error")
        return JSONResponse(internal_error_body(), status_code=500)


def document_unreadable_bodies(app: FastAPI) -> None:
    """Add the 400 for an undecodable body to every operation with a request body in the OpenAPI document."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        built_before = app.openapi_schema is not None
        document = build()
        if not built_before:
            for operations in document.get("paths", {}).values():
                for operation in operations.values():
                    if "requestBody" in operation:
                        operation["responses"].setdefault("400", UNREADABLE_BODY)
        return document

    app.openapi = openapi  # type: ignore[method-assign]
