"""Platform routes (operators, not tenants): create a tenant with its first owner."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, status

from wafaa.common.db import Database
from wafaa.gateway.auth.dependencies import PlatformActor, get_authenticator, get_db
from wafaa.gateway.auth.service import Authenticator
from wafaa.gateway.tenants import service
from wafaa.gateway.tenants.schemas import TenantCreate, TenantCreated

router = APIRouter(prefix="/api/v1/platform", tags=["platform"])


@router.post(
    "/tenants",
    status_code=status.HTTP_201_CREATED,
    responses={401: {"description": "Missing or wrong platform key"}, 409: {"description": "Email in use"}},
)
async def create_tenant(
    body: TenantCreate,
    actor: PlatformActor,
    db: Annotated[Database, Depends(get_db)],
    auth: Annotated[Authenticator, Depends(get_authenticator)],
) -> TenantCreated:
    """Create a tenant and its first owner."""
    password_hash = await auth.hasher.hash(body.owner_password)
    tenant_id = uuid.uuid4()
    async with db.transaction(tenant_id) as session:
        return await service.create_tenant_with_owner(session, tenant_id, body, password_hash, actor)
