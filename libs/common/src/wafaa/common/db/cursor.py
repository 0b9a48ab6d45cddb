"""Keyset pagination cursors: an opaque token for the (timestamp, id) of the last row of a page."""

from __future__ import annotations

import base64
from datetime import datetime
from uuid import UUID


class InvalidCursorError(ValueError):
    """The pagination cursor was not produced by `encode_cursor` (the gateway answers 422)."""


def encode_cursor(at: datetime, row_id: UUID) -> str:
    """An opaque cursor pointing after the row with this sort timestamp and id."""
    raw = f"{at.isoformat()}|{row_id}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, UUID]:
    """The (timestamp, id) a cursor points after; InvalidCursorError for anything else."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        at, row_id = raw.split("|", 1)
        return datetime.fromisoformat(at), UUID(row_id)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidCursorError("invalid cursor") from exc
