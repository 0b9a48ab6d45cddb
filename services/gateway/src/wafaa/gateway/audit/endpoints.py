"""Reading the audit trail (owners and admins)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Response

from wafaa.gateway.audit import service
from wafaa.gateway.audit.schemas import ActorType, AuditLogFilter, AuditLogPage
from wafaa.gateway.auth.dependencies import Manager

router = APIRouter(prefix="/api/v1/audit-logs", tags=["audit"])
ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "Not authenticated"},
    403: {"description": "Role not allowed"},
}


def _filters(
    actor_type: ActorType | None = None,
    actor_id: UUID | None = None,
    action: Annotated[str | None, Query(max_length=100)] = None,
    resource_type: Annotated[str | None, Query(max_length=50)] = None,
    resource_id: Annotated[str | None, Query(max_length=100)] = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> AuditLogFilter:
    return AuditLogFilter(
        actor_type=actor_type,
        actor_id=actor_id,
        action=action,
        resource_type=resource_type,
        resource_id=resource_id,
        since=since,
        until=until,
    )


Filters = Annotated[AuditLogFilter, Depends(_filters)]


@router.get("", responses=ERRORS)
async def list_audit_logs(
    principal: Manager,
    filters: Filters,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> AuditLogPage:
    """Your tenant's audit trail, newest first, filtered, one page at a time."""
    return await service.list_logs(principal.session, principal.tenant_id, filters, limit=limit, cursor=cursor)


@router.get("/export.csv", responses={**ERRORS, 200: {"content": {"text/csv": {}}}})
async def export_audit_logs(
    principal: Manager,
    filters: Filters,
) -> Response:
    """The filtered audit trail as CSV, with cells that a spreadsheet would run as formulas escaped."""
    body = await service.export_csv(principal.session, principal.tenant_id, filters)
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="audit-logs.csv"'},
    )
