"""JWTs: HS256 only, required claims, a type claim, and a separate secret for refresh tokens."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any, Literal

from jose import jwt  # type: ignore[import-untyped]
from jose.exceptions import JOSEError  # type: ignore[import-untyped]

from wafaa.gateway.config import GatewaySettings

ALGORITHM = "HS256"
TokenType = Literal["access", "refresh"]
_REQUIRED = ("exp", "iat", "sub", "jti")


class InvalidTokenError(Exception):
    """The token is malformed, forged, expired, of the wrong type or missing a claim."""


@dataclass(frozen=True)
class TokenClaims:
    type: TokenType
    user_id: uuid.UUID
    tenant_id: uuid.UUID
    jti: uuid.UUID
    family_id: uuid.UUID
    issued_at: int
    expires_at: int


@dataclass(frozen=True)
class IssuedToken:
    token: str
    claims: TokenClaims


class TokenService:
    """Issue and verify the two token types."""

    def __init__(self, settings: GatewaySettings) -> None:
        self._secrets = {
            "access": settings.jwt_secret.get_secret_value(),
            "refresh": settings.jwt_refresh_secret.get_secret_value(),
        }
        self._lifetimes = {"access": settings.access_token_minutes * 60, "refresh": settings.refresh_token_days * 86400}
        self.issuer = settings.jwt_issuer
        self.access_seconds = self._lifetimes["access"]

    def issue(
        self, kind: TokenType, user_id: uuid.UUID, tenant_id: uuid.UUID, family_id: uuid.UUID, now: int | None = None
    ) -> IssuedToken:
        """Sign a new token of the given type."""
        issued = int(now if now is not None else time.time())
        claims = TokenClaims(kind, user_id, tenant_id, uuid.uuid4(), family_id, issued, issued + self._lifetimes[kind])
        payload = {
            "typ": kind,
            "sub": str(user_id),
            "tid": str(tenant_id),
            "fam": str(family_id),
            "jti": str(claims.jti),
            "iat": claims.issued_at,
            "exp": claims.expires_at,
            "iss": self.issuer,
        }
        return IssuedToken(jwt.encode(payload, self._secrets[kind], algorithm=ALGORITHM), claims)

    def verify(self, token: str, kind: TokenType) -> TokenClaims:
        """Decode and check a token of the expected type, or raise InvalidTokenError."""
        try:
            header = jwt.get_unverified_header(token)
            if header.get("alg") != ALGORITHM:
                raise InvalidTokenError("unexpected algorithm")
            payload: dict[str, Any] = jwt.decode(
                token,
                self._secrets[kind],
                algorithms=[ALGORITHM],
                issuer=self.issuer,
                options={f"require_{claim}": True for claim in (*_REQUIRED, "iss")},
            )
        except (JOSEError, TypeError, ValueError, OverflowError) as exc:  # jose's claim checks int() raw values
            raise InvalidTokenError(str(exc)) from exc
        if payload.get("typ") != kind:
            raise InvalidTokenError("wrong token type")
        try:
            return TokenClaims(
                type=kind,
                user_id=uuid.UUID(str(payload["sub"])),
                tenant_id=uuid.UUID(str(payload["tid"])),
                jti=uuid.UUID(str(payload["jti"])),
                family_id=uuid.UUID(str(payload["fam"])),
                issued_at=int(payload["iat"]),
                expires_at=int(payload["exp"]),
            )
        except (KeyError, ValueError, TypeError) as exc:
            raise InvalidTokenError("malformed claims") from exc
