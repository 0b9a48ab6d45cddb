"""Helpers for each service's Alembic history: schema, version table, row-level security, grants."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType
from typing import Any

from alembic import context, op
from sqlalchemy import MetaData, pool
from sqlalchemy.engine import Connection

# Every service connects as a login role that is a member of this group role; migrations grant
# table privileges to the group, never to a login role, so the app role can change freely.
SERVICE_ROLE = "wafaa_service"

TENANT_EXPR = "NULLIF(current_setting('app.tenant_id', true), '')::uuid"


def run_env(schema: str, target_metadata: MetaData | None) -> None:
    """Body of every service's `env.py`: online migrations on the connection `wafaa-migrate` passes."""
    connection: Connection | None = context.config.attributes.get("connection")
    if connection is None:  # run by the plain `alembic` CLI
        from sqlalchemy import create_engine

        url = context.config.get_main_option("sqlalchemy.url")
        engine = create_engine(url or "", poolclass=pool.NullPool)
        with engine.connect() as conn:
            _configure_and_run(conn, schema, target_metadata)
        return
    _configure_and_run(connection, schema, target_metadata)


def _configure_and_run(connection: Connection, schema: str, target_metadata: MetaData | None) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        version_table="alembic_version",
        version_table_schema=schema,
        # autogenerate looks at this service's schema only
        include_schemas=True,
        include_name=lambda name, kind, _parent: kind != "schema" or name == schema,
        transaction_per_migration=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def enable_tenant_rls(table: str, *, tenant_column: str = "tenant_id") -> None:
    """Row-level security on a tenant table: forced, with USING and WITH CHECK on the tenant set
    by `SET LOCAL app.tenant_id`; a transaction without a tenant sees and writes no row."""
    op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
    op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
    op.execute(
        f"CREATE POLICY tenant_isolation ON {table} "
        f"USING ({tenant_column} = {TENANT_EXPR}) WITH CHECK ({tenant_column} = {TENANT_EXPR})"
    )


def grant_service(table: str, privileges: str = "SELECT, INSERT, UPDATE, DELETE") -> None:
    """Give the services' group role the privileges it needs on a table (never ownership)."""
    op.execute(f"GRANT {privileges} ON {table} TO {SERVICE_ROLE}")


def grant_function(signature: str) -> None:
    """Only the services' group role may call a function (`schema.name(argument types)`): PUBLIC's
    default EXECUTE is revoked."""
    op.execute(f"REVOKE ALL ON FUNCTION {signature} FROM PUBLIC")
    op.execute(f"GRANT EXECUTE ON FUNCTION {signature} TO {SERVICE_ROLE}")


def earlier_revision(migration_file: str, name: str) -> ModuleType:
    """An earlier migration of the same history (`name`, its file's stem next to `migration_file`),
    loaded from its file since a versions folder is no package: to reuse its SQL, e.g. in a downgrade."""
    spec = importlib.util.spec_from_file_location(name, Path(migration_file).with_name(f"{name}.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def tenant_table(
    table: str, privileges: str = "SELECT, INSERT, UPDATE, DELETE", *, tenant_column: str = "tenant_id"
) -> None:
    """Row-level security plus grants: call after creating every tenant table."""
    enable_tenant_rls(table, tenant_column=tenant_column)
    grant_service(table, privileges)


def read_view(view: str, select: str) -> None:
    """A view other services read through: security invoker, so the reader's own row-level security
    applies, and SELECT only."""
    op.execute(f"CREATE VIEW {view} WITH (security_invoker = true) AS {select}")
    grant_service(view, "SELECT")


def config_attributes() -> dict[str, Any]:
    """Attributes passed by the migrate command (for migrations that need them)."""
    return dict(context.config.attributes)
