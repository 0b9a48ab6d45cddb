"""Tenant routes: the caller's own tenant and its bot settings."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from wafaa.gateway.auth.dependencies import AnyMember, Manager
from wafaa.gateway.tenants import service
from wafaa.gateway.tenants.schemas import TenantRead, TenantSettingsUpdate

router = APIRouter(prefix="/api/v1/tenants/me", tags=["tenants"])
ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "Not authenticated"},
    403: {"description": "Role not allowed"},
}


@router.get("", responses=ERRORS)
async def get_my_tenant(principal: AnyMember) -> TenantRead:
    """Your tenant and its bot settings."""
    return await service.current_tenant(principal.session, principal.tenant_id)


@router.patch("/settings", responses=ERRORS)
async def update_settings(body: TenantSettingsUpdate, principal: Manager) -> TenantRead:
    """Change some bot settings; the result is validated as a whole (LLM settings: owners only)."""
    return await service.update_settings(principal.session, principal.user, body, principal.actor)
