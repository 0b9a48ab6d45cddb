"""Managing a tenant's users: roles, the last-owner rule, and an audit row per change."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from wafaa.gateway.audit import service as audit
from wafaa.gateway.audit.service import Actor
from wafaa.gateway.auth.passwords import PasswordHasher
from wafaa.gateway.errors import ApiError
from wafaa.gateway.users.models import User
from wafaa.gateway.users.repository import UserRepository
from wafaa.gateway.users.schemas import UserCreate, UserUpdate


def _not_found() -> ApiError:
    return ApiError(404, "not_found", "User not found.")


def _email_taken() -> ApiError:
    return ApiError(409, "email_taken", "This email is already in use.")


def _forbidden_owner() -> ApiError:
    return ApiError(403, "forbidden", "Only an owner can manage owners.")


def _last_owner() -> ApiError:
    return ApiError(409, "last_owner", "The last active owner cannot be removed, demoted or disabled.")


async def add_user(
    session: AsyncSession,
    tenant_id: UUID,
    email: str,
    role: str,
    password_hash: str,
    actor: Actor,
    *,
    audited: bool = True,
) -> User:
    """Insert a user without role checks (onboarding, and `create_user` after its checks)."""
    user = User(tenant_id=tenant_id, email=email, password_hash=password_hash, role=role, status="active")
    if await UserRepository(session, tenant_id).insert(user) is None:
        raise _email_taken()
    if audited:
        await audit.record(session, tenant_id, actor, "user.created", "user", user.id, {"email": email, "role": role})
    return user


async def list_users(session: AsyncSession, tenant_id: UUID) -> Sequence[User]:
    """Every user of the tenant."""
    return await UserRepository(session, tenant_id).list_all()


async def create_user(
    session: AsyncSession, current: User, data: UserCreate, hasher: PasswordHasher, actor: Actor
) -> User:
    """A new user of the current user's tenant; only owners create owners."""
    if data.role == "owner" and current.role != "owner":
        raise _forbidden_owner()
    password_hash = await hasher.hash(data.password)
    return await add_user(session, current.tenant_id, data.email, data.role, password_hash, actor)


async def update_user(
    session: AsyncSession, current: User, user_id: UUID, data: UserUpdate, hasher: PasswordHasher, actor: Actor
) -> User:
    """Change a user's role, status or password."""
    repo = UserRepository(session, current.tenant_id)
    target = await repo.get_for_update(user_id)
    if target is None:
        raise _not_found()
    if current.role != "owner" and (target.role == "owner" or data.role == "owner"):
        raise _forbidden_owner()
    loses_owner = target.role == "owner" and target.status == "active"
    loses_owner = loses_owner and ((data.role not in (None, "owner")) or data.status == "disabled")
    if loses_owner and await repo.count_active_owners() <= 1:
        raise _last_owner()
    changes: dict[str, Any] = {}
    if data.role is not None and data.role != target.role:
        changes["role"] = {"from": target.role, "to": data.role}
        target.role = data.role
    if data.status is not None and data.status != target.status:
        changes["status"] = {"from": target.status, "to": data.status}
        target.status = data.status
    if data.password is not None:
        target.password_hash = await hasher.hash(data.password)
        changes["password_changed"] = True
    await session.flush()
    await audit.record(session, current.tenant_id, actor, "user.updated", "user", target.id, changes)
    return target


async def delete_user(session: AsyncSession, current: User, user_id: UUID, actor: Actor) -> None:
    """Remove a user; their tokens stop working at their next request."""
    repo = UserRepository(session, current.tenant_id)
    target = await repo.get_for_update(user_id)
    if target is None:
        raise _not_found()
    if target.role == "owner" and current.role != "owner":
        raise _forbidden_owner()
    if target.role == "owner" and target.status == "active" and await repo.count_active_owners() <= 1:
        raise _last_owner()
    await repo.remove(target)
    await audit.record(
        session,
        current.tenant_id,
        actor,
        "user.deleted",
        "user",
        target.id,
        {"email": target.email, "role": target.role},
    )
