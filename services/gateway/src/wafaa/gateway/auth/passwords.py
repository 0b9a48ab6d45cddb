"""bcrypt used directly: hashing in a worker thread, the 72-byte limit checked before bcrypt sees it."""

from __future__ import annotations

import asyncio
import secrets

import bcrypt

MAX_PASSWORD_BYTES = 72  # bcrypt 5 raises ValueError beyond this; the limit is UTF-8 bytes, not characters
MIN_PASSWORD_CHARS = 8


def password_problem(password: str) -> str | None:
    """Why a new password is refused, or None when it is acceptable."""
    if len(password) < MIN_PASSWORD_CHARS:
        return f"must be at least {MIN_PASSWORD_CHARS} characters"
    if len(password.encode("utf-8")) > MAX_PASSWORD_BYTES:
        return f"must be at most {MAX_PASSWORD_BYTES} bytes in UTF-8 (Arabic letters take 2 bytes each)"
    return None


class PasswordHasher:
    """Hash and verify off the event loop; verifying an unknown account costs the same as a known one."""

    def __init__(self, rounds: int = 12) -> None:
        self.rounds = rounds
        self._dummy: bytes | None = None

    async def hash(self, password: str) -> str:
        """The bcrypt hash of a password already checked by `password_problem`."""
        salt = bcrypt.gensalt(rounds=self.rounds)
        hashed = await asyncio.to_thread(bcrypt.hashpw, password.encode("utf-8"), salt)
        return hashed.decode("ascii")

    async def verify(self, password: str, hashed: str | None) -> bool:
        """Whether the password matches; a missing hash or an over-long password is False, never an error."""
        raw = password.encode("utf-8")
        target = hashed.encode("ascii") if hashed else await self._dummy_hash()
        if len(raw) > MAX_PASSWORD_BYTES:
            # Spend the same time as a real check so the answer's timing says nothing.
            await asyncio.to_thread(bcrypt.checkpw, raw[:MAX_PASSWORD_BYTES], target)
            return False
        try:
            matches = await asyncio.to_thread(bcrypt.checkpw, raw, target)
        except ValueError:  # a malformed stored hash
            return False
        return matches and hashed is not None

    async def _dummy_hash(self) -> bytes:
        if self._dummy is None:
            salt = bcrypt.gensalt(rounds=self.rounds)
            self._dummy = await asyncio.to_thread(bcrypt.hashpw, secrets.token_bytes(16).hex().encode(), salt)
        return self._dummy
