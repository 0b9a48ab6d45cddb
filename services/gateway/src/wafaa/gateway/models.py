"""Every table of the `gateway` schema, for Alembic."""

from wafaa.gateway.database import Base, ProcessedEvent, metadata
from wafaa.gateway.tenants.models import Tenant

__all__ = ["Base", "ProcessedEvent", "Tenant", "metadata"]
