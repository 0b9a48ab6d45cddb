"""Tenants: onboarding with a first owner, reading the tenant, changing its bot settings."""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from wafaa.gateway.audit import service as audit
from wafaa.gateway.audit.service import Actor
from wafaa.gateway.errors import ApiError
from wafaa.gateway.tenants.models import Tenant
from wafaa.gateway.tenants.repository import TenantRowRepository
from wafaa.gateway.tenants.schemas import TenantCreate, TenantCreated, TenantRead, TenantSettings, TenantSettingsUpdate
from wafaa.gateway.users.models import User
from wafaa.gateway.users.schemas import UserRead
from wafaa.gateway.users.service import add_user

# Settings that cost money (model choice and reply length): owners only.
OWNER_ONLY_SETTINGS = frozenset({"llm"})


def tenant_read(tenant: Tenant) -> TenantRead:
    """The API view of a tenant, with every setting defaulted."""
    return TenantRead(
        id=tenant.id, name=tenant.name, created_at=tenant.created_at, settings=TenantSettings(**(tenant.settings or {}))
    )


async def create_tenant_with_owner(
    session: AsyncSession, tenant_id: uuid.UUID, data: TenantCreate, owner_password_hash: str, actor: Actor
) -> TenantCreated:
    """Onboard a tenant and its first owner, with one audit row.

    The caller opens the transaction for the new `tenant_id` (row-level security checks the new
    rows against it) and hashes the password before, so no connection waits on bcrypt.
    """
    tenant = Tenant(id=tenant_id, name=data.name, settings=TenantSettings().model_dump(mode="json"))
    await TenantRowRepository(session, tenant_id).insert(tenant)
    owner = await add_user(session, tenant_id, data.owner_email, "owner", owner_password_hash, actor, audited=False)
    summary = {"name": data.name, "owner_email": owner.email, "owner_id": str(owner.id)}
    await audit.record(session, tenant_id, actor, "tenant.created", "tenant", tenant_id, summary)
    await session.refresh(tenant)
    await session.refresh(owner)
    return TenantCreated(tenant=tenant_read(tenant), owner=UserRead.model_validate(owner))


async def current_tenant(session: AsyncSession, tenant_id: uuid.UUID) -> TenantRead:
    """The caller's own tenant."""
    tenant = await TenantRowRepository(session, tenant_id).current()
    if tenant is None:
        raise ApiError(404, "not_found", "Tenant not found.")
    return tenant_read(tenant)


async def update_settings(session: AsyncSession, current: User, data: TenantSettingsUpdate, actor: Actor) -> TenantRead:
    """Merge a partial settings update, validate the result as a whole, and audit what changed."""
    changed = data.changed()
    if current.role != "owner" and OWNER_ONLY_SETTINGS & changed.keys():
        raise ApiError(403, "forbidden", "Only an owner can change the LLM settings.")
    tenant = await TenantRowRepository(session, current.tenant_id).current(for_update=True)
    if tenant is None:
        raise ApiError(404, "not_found", "Tenant not found.")
    before = TenantSettings(**(tenant.settings or {})).model_dump(mode="json")
    merged = _merge(before, changed)
    try:
        after = TenantSettings(**merged).model_dump(mode="json")
    except ValidationError as exc:
        details = [{"loc": ["body", *e["loc"]], "msg": e["msg"], "type": e["type"]} for e in exc.errors()]
        raise ApiError(422, "validation_error", "The settings are not valid.", details) from exc
    tenant.settings = after
    await session.flush()
    diff = {k: {"from": before.get(k), "to": after[k]} for k in after if before.get(k) != after[k]}
    await audit.record(session, current.tenant_id, actor, "tenant.settings_updated", "tenant", tenant.id, diff)
    return tenant_read(tenant)


def _merge(base: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in patch.items():
        if key in ("retrieval", "llm") and isinstance(value, dict):
            merged[key] = {**(base.get(key) or {}), **value}
        else:
            merged[key] = value
    return merged
