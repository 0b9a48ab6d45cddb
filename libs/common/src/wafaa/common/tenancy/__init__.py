"""Tenant identity carried through a request or a message."""

from wafaa.common.tenancy.context import TenantId, current_tenant, tenant_scope

__all__ = ["TenantId", "current_tenant", "tenant_scope"]
