"""Secrets at rest (channel tokens, app secrets): Fernet from `cryptography`, keyed from settings."""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken


class SecretBoxError(ValueError):
    """A stored secret could not be decrypted (wrong key or tampered value)."""


class SecretBox:
    """Encrypts and decrypts short secrets with a key derived from a configured passphrase."""

    def __init__(self, passphrase: str) -> None:
        key = base64.urlsafe_b64encode(hashlib.sha256(passphrase.encode()).digest())
        self._fernet = Fernet(key)

    def encrypt(self, plaintext: str) -> str:
        """Ciphertext safe to store in a text column."""
        return self._fernet.encrypt(plaintext.encode()).decode()

    def decrypt(self, ciphertext: str) -> str:
        """The plaintext, or SecretBoxError."""
        try:
            return self._fernet.decrypt(ciphertext.encode()).decode()
        except InvalidToken as exc:
            raise SecretBoxError("secret cannot be decrypted with the configured key") from exc


def last4(secret: str) -> str:
    """What the API may show of a secret: that it is set, and its last four characters."""
    return f"…{secret[-4:]}" if len(secret) >= 8 else "set"
