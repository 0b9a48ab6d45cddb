"""The tenant a unit of work runs for."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from uuid import UUID

TenantId = UUID

_current: ContextVar[UUID | None] = ContextVar("current_tenant", default=None)


def current_tenant() -> UUID | None:
    """The tenant of the unit of work running now, if any."""
    return _current.get()


@contextmanager
def tenant_scope(tenant_id: UUID) -> Iterator[UUID]:
    """Run a block on behalf of one tenant."""
    token = _current.set(tenant_id)
    try:
        yield tenant_id
    finally:
        _current.reset(token)
