"""Every table of the `gateway` schema, for Alembic."""

from wafaa.gateway.audit.models import AuditLog
from wafaa.gateway.auth.models import RefreshToken
from wafaa.gateway.channels.models import Channel
from wafaa.gateway.database import Base, ProcessedEvent, metadata
from wafaa.gateway.knowledge.models import KnowledgeDocument
from wafaa.gateway.tenants.models import Tenant
from wafaa.gateway.users.models import User

__all__ = [
    "AuditLog",
    "Base",
    "Channel",
    "KnowledgeDocument",
    "ProcessedEvent",
    "RefreshToken",
    "Tenant",
    "User",
    "metadata",
]
