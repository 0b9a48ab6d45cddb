"""Auth routes: login, refresh, logout, me."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, status

from wafaa.common.db import Database
from wafaa.gateway.auth import service
from wafaa.gateway.auth.dependencies import CurrentPrincipal, get_authenticator, get_db, request_actor
from wafaa.gateway.auth.schemas import LoginRequest, RefreshRequest, TokenPair
from wafaa.gateway.auth.service import Authenticator
from wafaa.gateway.users.schemas import UserRead

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])

Db = Annotated[Database, Depends(get_db)]
Auth = Annotated[Authenticator, Depends(get_authenticator)]
ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "Not authenticated"},
    503: {"description": "Auth store unavailable"},
}


@router.post("/login", responses={**ERRORS, 429: {"description": "Too many failed attempts"}})
async def login(body: LoginRequest, request: Request, db: Db, auth: Auth) -> TokenPair:
    """Exchange email and password for an access and a refresh token."""
    meta = request_actor(request)
    email = service.normalize_login_email(body.email)
    await service.check_throttle(auth, email, meta.ip or "unknown")
    async with db.transaction(None) as session:
        record = await service.lookup_login(session, email)
    verified = await service.verify_credentials(auth, record, email, body.password, meta.ip or "unknown")
    async with db.transaction(verified.tenant_id) as session:
        return await service.start_session(session, auth, verified, meta)


@router.post("/refresh", responses=ERRORS)
async def refresh(body: RefreshRequest, request: Request, db: Db, auth: Auth) -> TokenPair:
    """Rotate a refresh token: the old one dies; reusing a dead one revokes its whole family."""
    claims = service.read_token(auth, body.refresh_token, "refresh")
    async with db.transaction(claims.tenant_id) as session:
        outcome = await service.rotate(session, auth, claims, request_actor(request))
    if outcome.error is not None:
        raise outcome.error
    assert outcome.pair is not None
    return outcome.pair


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT, responses=ERRORS)
async def logout(principal: CurrentPrincipal, auth: Auth) -> None:
    """Revoke the access token now and its refresh family."""
    await service.logout(principal.session, auth, principal.user, principal.claims, principal.actor)


@router.get("/me", responses=ERRORS)
async def me(principal: CurrentPrincipal) -> UserRead:
    """The signed-in user."""
    return UserRead.model_validate(principal.user)
