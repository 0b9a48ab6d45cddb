"""Meta's webhook signature: HMAC-SHA256 of the raw body with the app secret."""

from __future__ import annotations

import hashlib
import hmac

PREFIX = "sha256="


def sign(raw_body: bytes, app_secret: str) -> str:
    """The `X-Hub-Signature-256` value Meta would send for this body."""
    return PREFIX + hmac.new(app_secret.encode(), raw_body, hashlib.sha256).hexdigest()


def signature_is_valid(raw_body: bytes, header: str | None, app_secret: str) -> bool:
    """Constant-time check of the header against the raw bytes as received (never re-serialised JSON)."""
    if not header or not app_secret or not header.startswith(PREFIX):
        return False
    given = header[len(PREFIX) :].strip().lower()
    if not given.isascii():  # compare_digest raises TypeError on non-ASCII str; a hex digest is ASCII
        return False
    expected = hmac.new(app_secret.encode(), raw_body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, given)


def token_matches(given: str | None, expected: str) -> bool:
    """Constant-time comparison of the verification handshake's token."""
    return bool(given) and bool(expected) and hmac.compare_digest(given.encode(), expected.encode())  # type: ignore[union-attr]
