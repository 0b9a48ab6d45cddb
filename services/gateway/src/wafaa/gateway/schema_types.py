"""Field types shared by the request schemas."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BeforeValidator


def _iso_text(value: Any) -> Any:
    # pydantic's lax mode reads a number as seconds since 1970: `"token_expires_at": 156` would be
    # stored as 1970-01-01T00:02:36Z. The schema says an ISO 8601 string, so only a string (or an
    # already parsed datetime, from Python callers) gets through.
    if value is None or isinstance(value, str | datetime):
        return value
    raise ValueError("must be an ISO 8601 date-time string, e.g. 2026-12-31T23:59:00Z")


IsoDatetime = Annotated[datetime, BeforeValidator(_iso_text)]
"""A date-time the client sends as ISO 8601 text; numbers are refused, not read as Unix time."""
