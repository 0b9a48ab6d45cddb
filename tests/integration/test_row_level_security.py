"""The second wall: Postgres row-level security as the services' own role sees it."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.fixtures.infrastructure import APP_USER
from wafaa.common.db import Database

pytestmark = pytest.mark.integration

SCHEMAS = ("gateway", "ingestion", "rag", "channels", "analytics")


async def tenant_tables(engine: AsyncEngine) -> list[tuple[str, str, bool, bool, str]]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            text(
                "SELECT n.nspname, c.relname, c.relrowsecurity, c.relforcerowsecurity, pg_get_userbyid(c.relowner) "
                "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE c.relkind = 'r' AND n.nspname = ANY(:schemas) AND c.relname <> 'alembic_version'"
            ),
            {"schemas": list(SCHEMAS)},
        )
        return [tuple(r) for r in rows]


async def test_services_role_is_neither_superuser_nor_bypassrls_nor_owner(admin_engine: AsyncEngine) -> None:
    async with admin_engine.connect() as conn:
        role = (
            await conn.execute(
                text("SELECT rolsuper, rolbypassrls, rolcreaterole, rolcreatedb FROM pg_roles WHERE rolname = :r"),
                {"r": APP_USER},
            )
        ).one()
    assert tuple(role) == (False, False, False, False)
    tables = await tenant_tables(admin_engine)
    assert len(tables) >= 8
    assert all(owner != APP_USER for *_, owner in tables)


async def test_every_table_of_every_service_has_forced_row_level_security(admin_engine: AsyncEngine) -> None:
    tables = await tenant_tables(admin_engine)
    unprotected = [f"{s}.{t}" for s, t, enabled, forced, _ in tables if not (enabled and forced)]
    assert unprotected == []


async def test_without_a_tenant_the_app_role_sees_no_row_and_with_one_only_that_tenants(
    admin_engine: AsyncEngine, app_engine: AsyncEngine
) -> None:
    db = Database(app_engine)
    tenant_a, tenant_b = uuid.uuid4(), uuid.uuid4()
    for tenant, name in ((tenant_a, "A"), (tenant_b, "B")):
        async with db.transaction(tenant) as session:
            await session.execute(
                text("INSERT INTO gateway.tenants (id, name) VALUES (:id, :n)"), {"id": tenant, "n": f"Tenant {name}"}
            )
            conv = (
                await session.execute(
                    text(
                        "INSERT INTO rag.conversations (id, tenant_id, channel, customer_id) "
                        "VALUES (gen_random_uuid(), :t, 'whatsapp', '971500000001') RETURNING id"
                    ),
                    {"t": tenant},
                )
            ).scalar_one()
            await session.execute(
                text(
                    "INSERT INTO rag.messages (id, tenant_id, conversation_id, direction, author, kind, text, "
                    "attachments) VALUES (gen_random_uuid(), :t, :c, 'in', 'customer', 'text', :x, '[]')"
                ),
                {"t": tenant, "c": conv, "x": f"secret of {name}"},
            )

    tables = [f"{s}.{t}" for s, t, *_ in await tenant_tables(admin_engine)]
    async with db.transaction(None) as session:
        for table in tables:
            assert (await session.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one() == 0, table

    async with db.transaction(tenant_a) as session:
        texts = (await session.execute(text("SELECT text FROM rag.messages"))).scalars().all()
        names = (await session.execute(text("SELECT name FROM gateway.tenants"))).scalars().all()
    assert texts == ["secret of A"]
    assert names == ["Tenant A"]


async def test_a_row_for_another_tenant_cannot_be_written(app_engine: AsyncEngine) -> None:
    db = Database(app_engine)
    with pytest.raises(Exception, match="row-level security"):
        async with db.transaction(uuid.uuid4()) as session:
            await session.execute(
                text(
                    "INSERT INTO rag.conversations (id, tenant_id, channel, customer_id) "
                    "VALUES (gen_random_uuid(), :other, 'whatsapp', 'x')"
                ),
                {"other": uuid.uuid4()},
            )
