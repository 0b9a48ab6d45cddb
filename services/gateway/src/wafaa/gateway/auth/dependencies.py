"""Request dependencies: who is calling, and the tenant transaction the request runs in.

The entrypoint owns the transaction: `authenticated` verifies the access token, opens
`db.transaction(tenant)` for the tenant named in the token, confirms the user still belongs to it
and is active, yields, and commits when the endpoint returns (rolls back if it raises). It runs with
`scope="function"`, so the commit happens before the response is sent.
"""

from __future__ import annotations

import hmac
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from wafaa.common.db import Database
from wafaa.gateway.audit.service import Actor
from wafaa.gateway.auth import service
from wafaa.gateway.auth.service import Authenticator, user_actor
from wafaa.gateway.auth.tokens import TokenClaims
from wafaa.gateway.errors import ApiError
from wafaa.gateway.users.models import User
from wafaa.gateway.users.repository import UserRepository

_bearer = HTTPBearer(auto_error=False, description="An access token from `POST /api/v1/auth/login`.")
_platform_key = APIKeyHeader(name="X-Platform-Key", auto_error=False, description="The platform administration key.")


@dataclass(frozen=True)
class Principal:
    """The signed-in user, their token, the open tenant transaction and the audit actor."""

    user: User
    claims: TokenClaims
    session: AsyncSession
    actor: Actor

    @property
    def tenant_id(self) -> Any:
        return self.user.tenant_id


def get_db(request: Request) -> Database:
    """The process-wide database."""
    db: Database = request.app.state.db
    return db


def get_authenticator(request: Request) -> Authenticator:
    """The authentication collaborators wired in `main.py`."""
    auth: Authenticator = request.app.state.auth
    return auth


def client_ip(request: Request) -> str:
    """The client address as the server sees it (a trusted proxy rewrites it upstream)."""
    return request.client.host if request.client else "unknown"


def request_actor(request: Request) -> Actor:
    """Audit metadata of the request, before we know who is calling."""
    return Actor(
        type="anonymous",
        request_id=getattr(request.state, "request_id", None),
        ip=client_ip(request),
        user_agent=request.headers.get("user-agent"),
    )


async def authenticated(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> AsyncIterator[Principal]:
    """The calling user, inside a transaction of their tenant (from the token, never the request)."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise service.invalid_token()
    auth = get_authenticator(request)
    claims = service.read_token(auth, credentials.credentials, "access")
    await service.ensure_not_logged_out(auth, claims)
    async with get_db(request).transaction(claims.tenant_id) as session:
        user = await UserRepository(session, claims.tenant_id).get(claims.user_id)
        if user is None or user.status != "active":
            raise service.invalid_token()
        yield Principal(user=user, claims=claims, session=session, actor=user_actor(user, request_actor(request)))


CurrentPrincipal = Annotated[Principal, Depends(authenticated, scope="function")]


def require_roles(*roles: str) -> Callable[[Principal], Coroutine[Any, Any, Principal]]:
    """A dependency that lets only the given roles through (403 for the others)."""

    async def check(principal: CurrentPrincipal) -> Principal:
        if principal.user.role not in roles:
            raise ApiError(403, "forbidden", "Your role does not allow this action.")
        return principal

    return check


AnyMember = CurrentPrincipal
Manager = Annotated[Principal, Depends(require_roles("owner", "admin"), scope="function")]


async def platform_admin(request: Request, key: Annotated[str | None, Depends(_platform_key)]) -> Actor:
    """The platform key, compared in constant time; the actor for the audit trail."""
    expected = request.app.state.settings.platform_api_key.get_secret_value().encode()
    given = (key or "").encode()
    if not expected or not hmac.compare_digest(given, expected):
        raise ApiError(401, "invalid_platform_key", "The platform key is missing or wrong.")
    meta = request_actor(request)
    return Actor(
        type="platform", label="platform-key", request_id=meta.request_id, ip=meta.ip, user_agent=meta.user_agent
    )


PlatformActor = Annotated[Actor, Depends(platform_admin)]
