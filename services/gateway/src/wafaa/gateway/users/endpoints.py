"""Admin management of the tenant's users (owners and admins)."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, status

from wafaa.gateway.auth.dependencies import Manager, get_authenticator
from wafaa.gateway.auth.service import Authenticator
from wafaa.gateway.users import service
from wafaa.gateway.users.schemas import UserCreate, UserRead, UserUpdate

router = APIRouter(prefix="/api/v1/tenants/me/users", tags=["users"])
Auth = Annotated[Authenticator, Depends(get_authenticator)]
ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "Not authenticated"},
    403: {"description": "Role not allowed"},
}


@router.get("", responses=ERRORS)
async def list_users(principal: Manager) -> list[UserRead]:
    """Every user of your tenant."""
    return [UserRead.model_validate(u) for u in await service.list_users(principal.session, principal.tenant_id)]


@router.post("", status_code=status.HTTP_201_CREATED, responses={**ERRORS, 409: {"description": "Email in use"}})
async def create_user(body: UserCreate, principal: Manager, auth: Auth) -> UserRead:
    """Add a user to your tenant (only owners add owners)."""
    user = await service.create_user(principal.session, principal.user, body, auth.hasher, principal.actor)
    return UserRead.model_validate(user)


@router.patch(
    "/{user_id}", responses={**ERRORS, 404: {"description": "No such user"}, 409: {"description": "Last owner"}}
)
async def update_user(user_id: UUID, body: UserUpdate, principal: Manager, auth: Auth) -> UserRead:
    """Change a user's role, status or password."""
    user = await service.update_user(principal.session, principal.user, user_id, body, auth.hasher, principal.actor)
    return UserRead.model_validate(user)


@router.delete(
    "/{user_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={**ERRORS, 404: {"description": "No such user"}, 409: {"description": "Last owner"}},
)
async def delete_user(user_id: UUID, principal: Manager) -> None:
    """Remove a user; their tokens stop working at their next request."""
    await service.delete_user(principal.session, principal.user, user_id, principal.actor)
