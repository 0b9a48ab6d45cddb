"""Database access: engine, tenant-scoped bases and repositories, the inbox."""

from wafaa.common.db.base import HasCreatedAt, HasId, InboxMixin, TenantScoped, service_metadata
from wafaa.common.db.engine import Database
from wafaa.common.db.inbox import exactly_once, exactly_once_together, record_many, record_once
from wafaa.common.db.repository import CrossTenantWriteError, TenantRepository

__all__ = [
    "CrossTenantWriteError",
    "Database",
    "HasCreatedAt",
    "HasId",
    "InboxMixin",
    "TenantRepository",
    "TenantScoped",
    "exactly_once",
    "exactly_once_together",
    "record_many",
    "record_once",
    "service_metadata",
]
