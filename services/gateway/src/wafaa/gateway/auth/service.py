"""Login, refresh rotation with reuse detection, logout. Transactions belong to the caller."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from wafaa.gateway.audit import service as audit
from wafaa.gateway.audit.service import Actor
from wafaa.gateway.auth.models import RefreshToken
from wafaa.gateway.auth.passwords import PasswordHasher
from wafaa.gateway.auth.repository import RefreshTokenRepository, find_login
from wafaa.gateway.auth.schemas import LoginRecord, TokenPair
from wafaa.gateway.auth.throttle import AuthStoreUnavailableError, Blocklist, LoginThrottle
from wafaa.gateway.auth.tokens import InvalidTokenError, TokenClaims, TokenService, TokenType
from wafaa.gateway.errors import ApiError
from wafaa.gateway.users.models import User
from wafaa.gateway.users.repository import UserRepository


@dataclass(frozen=True)
class Authenticator:
    """The authentication collaborators, built once in `main.py`."""

    tokens: TokenService
    hasher: PasswordHasher
    throttle: LoginThrottle
    blocklist: Blocklist


def invalid_credentials() -> ApiError:
    """The one answer for an unknown email, a wrong password, or a disabled account."""
    return ApiError(401, "invalid_credentials", "The email or password is incorrect.")


def invalid_token(message: str = "The token is missing, invalid or expired.") -> ApiError:
    """A token that cannot be used (any reason: the client should sign in again)."""
    return ApiError(401, "invalid_token", message, headers={"WWW-Authenticate": "Bearer"})


def auth_unavailable() -> ApiError:
    """Redis is down: refuse rather than skip the throttle or the logout blocklist."""
    return ApiError(503, "auth_unavailable", "Authentication is temporarily unavailable; try again shortly.")


def normalize_login_email(email: str) -> str:
    """Emails are stored lower-cased and trimmed."""
    return email.strip().lower()


async def check_throttle(auth: Authenticator, email: str, ip: str) -> None:
    """429 with Retry-After when the account or the IP failed too often recently."""
    try:
        wait = await auth.throttle.retry_after(email, ip)
    except AuthStoreUnavailableError as exc:
        raise auth_unavailable() from exc
    if wait is not None:
        raise ApiError(
            429,
            "too_many_attempts",
            "Too many failed sign-in attempts; try again later.",
            headers={"Retry-After": str(wait)},
        )


async def lookup_login(session: AsyncSession, email: str) -> LoginRecord | None:
    """The account an email signs in to, in a transaction without a tenant."""
    return await find_login(session, email)


async def verify_credentials(
    auth: Authenticator, record: LoginRecord | None, email: str, password: str, ip: str
) -> LoginRecord:
    """The account when the password matches; otherwise count a failure and answer 401.

    An unknown email costs one bcrypt check against a dummy hash, like a known one."""
    matches = await auth.hasher.verify(password, record.password_hash if record else None)
    try:
        if record is None or not matches or record.status != "active":
            await auth.throttle.record_failure(email, ip)
            raise invalid_credentials()
        await auth.throttle.reset_account(email)
    except AuthStoreUnavailableError as exc:
        raise auth_unavailable() from exc
    return record


def _pair(
    auth: Authenticator, user_id: uuid.UUID, tenant_id: uuid.UUID, family_id: uuid.UUID
) -> tuple[TokenPair, TokenClaims]:
    access = auth.tokens.issue("access", user_id, tenant_id, family_id)
    refresh = auth.tokens.issue("refresh", user_id, tenant_id, family_id)
    pair = TokenPair(access_token=access.token, refresh_token=refresh.token, expires_in=auth.tokens.access_seconds)
    return pair, refresh.claims


def _refresh_row(claims: TokenClaims) -> RefreshToken:
    return RefreshToken(
        id=claims.jti,
        tenant_id=claims.tenant_id,
        user_id=claims.user_id,
        family_id=claims.family_id,
        expires_at=datetime.fromtimestamp(claims.expires_at, UTC),
    )


async def start_session(session: AsyncSession, auth: Authenticator, record: LoginRecord, actor: Actor) -> TokenPair:
    """Issue an access and a refresh token (a new family) for a verified account, and audit it."""
    user = await UserRepository(session, record.tenant_id).get(record.user_id)
    if user is None or user.status != "active":
        raise invalid_credentials()
    pair, refresh = _pair(auth, user.id, user.tenant_id, uuid.uuid4())
    await RefreshTokenRepository(session, user.tenant_id).insert(_refresh_row(refresh))
    actor = user_actor(user, actor)
    await audit.record(
        session, user.tenant_id, actor, "auth.logged_in", "user", user.id, {"family_id": str(refresh.family_id)}
    )
    return pair


def read_token(auth: Authenticator, token: str, kind: TokenType) -> TokenClaims:
    """The claims of a valid token of the given type, or 401."""
    try:
        return auth.tokens.verify(token, kind)
    except InvalidTokenError as exc:
        raise invalid_token() from exc


@dataclass(frozen=True)
class Rotation:
    """Either a new pair, or the error to answer after the revocation is committed."""

    pair: TokenPair | None = None
    error: ApiError | None = None


async def rotate(session: AsyncSession, auth: Authenticator, claims: TokenClaims, actor: Actor) -> Rotation:
    """Exchange a live refresh token for a new pair; a reused one revokes its whole family.

    Returns the error instead of raising it so the caller commits the family's revocation first."""
    tokens = RefreshTokenRepository(session, claims.tenant_id)
    row = await tokens.get_for_update(claims.jti)
    if row is None or row.user_id != claims.user_id or row.family_id != claims.family_id:
        return Rotation(error=invalid_token())
    now = datetime.now(UTC)
    user = await UserRepository(session, claims.tenant_id).get(claims.user_id)
    if user is None or user.status != "active":
        return Rotation(error=invalid_token())
    actor = user_actor(user, actor)
    if row.used_at is not None or row.revoked_at is not None:
        await tokens.revoke_family(row.family_id, now)
        await audit.record(
            session,
            claims.tenant_id,
            actor,
            "auth.refresh_reuse_detected",
            "user",
            user.id,
            {"family_id": str(row.family_id)},
        )
        return Rotation(error=invalid_token("This refresh token was already used; the session is revoked."))
    row.used_at = now
    pair, refresh = _pair(auth, user.id, user.tenant_id, row.family_id)
    await tokens.insert(_refresh_row(refresh))
    await audit.record(
        session, claims.tenant_id, actor, "auth.token_refreshed", "user", user.id, {"family_id": str(row.family_id)}
    )
    return Rotation(pair=pair)


async def ensure_not_logged_out(auth: Authenticator, claims: TokenClaims) -> None:
    """401 for a logged-out access token; 503 when the blocklist cannot be read (fail closed)."""
    try:
        blocked = await auth.blocklist.is_blocked(claims.tenant_id, claims.jti)
    except AuthStoreUnavailableError as exc:
        raise auth_unavailable() from exc
    if blocked:
        raise invalid_token()


async def logout(session: AsyncSession, auth: Authenticator, user: User, claims: TokenClaims, actor: Actor) -> None:
    """Blocklist the access token until it expires and revoke its refresh family."""
    await RefreshTokenRepository(session, user.tenant_id).revoke_family(claims.family_id, datetime.now(UTC))
    await audit.record(
        session, user.tenant_id, actor, "auth.logged_out", "user", user.id, {"family_id": str(claims.family_id)}
    )
    try:
        await auth.blocklist.block(claims.tenant_id, claims.jti, claims.expires_at)
    except AuthStoreUnavailableError as exc:
        raise auth_unavailable() from exc


def user_actor(user: User, meta: Actor) -> Actor:
    """The request's actor metadata, attributed to a user."""
    return Actor(
        type="user", id=user.id, label=user.email, request_id=meta.request_id, ip=meta.ip, user_agent=meta.user_agent
    )
