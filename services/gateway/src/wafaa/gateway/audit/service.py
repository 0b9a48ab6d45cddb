"""Writing and reading the audit trail."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from wafaa.common.db.cursor import decode_cursor, encode_cursor
from wafaa.gateway.audit.models import AuditLog
from wafaa.gateway.audit.repository import AuditLogRepository
from wafaa.gateway.audit.schemas import AuditLogFilter, AuditLogPage, AuditLogRead

SECRET_FIELDS = frozenset({"password", "password_hash", "owner_password", "token", "refresh_token", "access_token"})
EXPORT_LIMIT = 50_000
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class Actor:
    """Who did it and from where: a user, the platform key or the system (CLI, workers)."""

    type: str
    id: UUID | None = None
    label: str | None = None
    request_id: str | None = None
    ip: str | None = None
    user_agent: str | None = None


SYSTEM = Actor(type="system", label="cli")


def redact(changes: Mapping[str, Any]) -> dict[str, Any]:
    """A change summary without secrets (nested dicts included)."""
    clean: dict[str, Any] = {}
    for key, value in changes.items():
        if key in SECRET_FIELDS:
            clean[key] = "[redacted]"
        elif isinstance(value, Mapping):
            clean[key] = redact(value)
        else:
            clean[key] = value
    return clean


async def record(
    session: AsyncSession,
    tenant_id: UUID,
    actor: Actor,
    action: str,
    resource_type: str,
    resource_id: UUID | str | None,
    changes: Mapping[str, Any] | None = None,
) -> AuditLog:
    """Write one audit row in the caller's transaction."""
    row = AuditLog(
        tenant_id=tenant_id,
        actor_type=actor.type,
        actor_id=actor.id,
        actor_label=actor.label,
        action=action,
        resource_type=resource_type,
        resource_id=str(resource_id) if resource_id is not None else None,
        changes=redact(changes or {}),
        request_id=actor.request_id,
        ip=actor.ip,
        user_agent=(actor.user_agent or "")[:500] or None,
    )
    return await AuditLogRepository(session, tenant_id).insert(row)


async def list_logs(
    session: AsyncSession, tenant_id: UUID, filters: AuditLogFilter, *, limit: int, cursor: str | None
) -> AuditLogPage:
    """One page of the tenant's audit trail, newest first."""
    after = decode_cursor(cursor) if cursor else None
    rows = await AuditLogRepository(session, tenant_id).search(filters, limit=limit + 1, after=after)
    page = list(rows[:limit])
    next_cursor = encode_cursor(page[-1].occurred_at, page[-1].id) if len(rows) > limit and page else None
    return AuditLogPage(items=[AuditLogRead.model_validate(r) for r in page], next_cursor=next_cursor)


def escape_cell(value: object) -> str:
    """A CSV cell a spreadsheet will not run as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


CSV_COLUMNS = (
    "occurred_at",
    "actor_type",
    "actor_id",
    "actor_label",
    "action",
    "resource_type",
    "resource_id",
    "changes",
    "request_id",
    "ip",
    "user_agent",
    "id",
)


async def export_csv(session: AsyncSession, tenant_id: UUID, filters: AuditLogFilter) -> str:
    """The filtered audit trail (newest first, capped) as CSV with formula cells escaped."""
    rows = await AuditLogRepository(session, tenant_id).search(filters, limit=EXPORT_LIMIT)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        values = [getattr(row, c) for c in CSV_COLUMNS]
        values[CSV_COLUMNS.index("changes")] = json.dumps(row.changes, ensure_ascii=False, sort_keys=True)
        writer.writerow([escape_cell(v) for v in values])
    return out.getvalue()
