"""Engine and tenant-scoped transactions: the entrypoint opens one, services only flush."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from uuid import UUID

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from wafaa.common.config import CommonSettings

_SET_CONTEXT = text(
    "SELECT set_config('app.tenant_id', :tenant_id, true), set_config('statement_timeout', :timeout, true)"
)


class Database:
    """One engine per process; every transaction runs for exactly one tenant (or for none)."""

    def __init__(self, engine: AsyncEngine, *, statement_timeout_ms: int = 30_000) -> None:
        self.engine = engine
        self.sessions = async_sessionmaker(engine, expire_on_commit=False, autoflush=False)
        self._timeout = f"{statement_timeout_ms}ms"

    @classmethod
    def from_settings(cls, settings: CommonSettings) -> Database:
        """The service's database from DATABASE_URL and the pool settings.

        No `pool_pre_ping`: with asyncpg it costs BEGIN, a ping and ROLLBACK on every checkout (about
        half the CPU of a short request). A connection broken by a database restart fails its one
        transaction with a disconnect error; SQLAlchemy then invalidates every older pooled
        connection, so the next transactions reconnect.
        """
        engine = create_async_engine(
            settings.database_url.get_secret_value(),
            pool_size=settings.db_pool_size,
            max_overflow=settings.db_max_overflow,
            pool_recycle=1800,
        )
        return cls(engine, statement_timeout_ms=settings.db_statement_timeout_ms)

    @asynccontextmanager
    async def transaction(self, tenant_id: UUID | None) -> AsyncIterator[AsyncSession]:
        """A transaction with `app.tenant_id` set by SET LOCAL, committed when the block exits.

        With `tenant_id=None` row-level security hides every tenant row: only tables that are
        not tenant-scoped can be read.
        """
        async with self.sessions() as session, session.begin():
            await self.enter_tenant(session, tenant_id)
            yield session

    async def enter_tenant(self, session: AsyncSession, tenant_id: UUID | None) -> None:
        """Make `tenant_id` the tenant of the rest of this transaction (row-level security follows at once)."""
        await session.execute(
            _SET_CONTEXT, {"tenant_id": str(tenant_id) if tenant_id else "", "timeout": self._timeout}
        )

    async def ping(self) -> None:
        """Raise unless the database answers."""
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        """Close every pooled connection."""
        await self.engine.dispose()
