"""`wafaa-migrate`: the one-shot migration step, run once per deploy, never by service replicas.

It connects with DATABASE_ADMIN_URL (a role that may create schemas and roles), installs pgvector,
makes sure the services' login role from DATABASE_URL exists and is neither superuser nor
BYPASSRLS, then runs each service's own Alembic history in the service's own schema. Services
announce their histories through the `wafaa.migrations` entry point group, so this module
imports no service.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from importlib import metadata, resources
from pathlib import Path

from alembic import command
from alembic.config import Config
from pydantic import SecretStr
from sqlalchemy import text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import create_async_engine

from wafaa.common.config import CommonSettings
from wafaa.common.db.migrations import SERVICE_ROLE

logger = logging.getLogger("wafaa.migrate")

ORDER = ("gateway", "ingestion", "rag", "channels", "analytics")
LOCK_KEY = 7_302_611  # advisory lock: two migrate steps never run at once


def service_histories() -> dict[str, Path]:
    """Each installed service's Alembic script folder, keyed by service (= schema) name."""
    found: dict[str, Path] = {}
    for entry in metadata.entry_points(group="wafaa.migrations"):
        found[entry.name] = Path(str(resources.files(entry.value)))
    return dict(sorted(found.items(), key=lambda kv: (ORDER.index(kv[0]) if kv[0] in ORDER else 99, kv[0])))


def _quote_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _bootstrap(conn: Connection, app_user: str, app_password: str | None) -> None:
    conn.execute(text("CREATE EXTENSION IF NOT EXISTS vector"))
    exists = conn.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": SERVICE_ROLE}).first()
    if not exists:
        conn.execute(text(f"CREATE ROLE {SERVICE_ROLE} NOLOGIN NOSUPERUSER NOBYPASSRLS"))
    if not app_user.replace("_", "").isalnum():
        raise SystemExit(f"refusing unusual role name {app_user!r} in DATABASE_URL")
    password = f" PASSWORD {_quote_literal(app_password)}" if app_password else ""
    if conn.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": app_user}).first():
        conn.execute(text(f"ALTER ROLE {app_user} LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEROLE NOCREATEDB{password}"))
    else:
        conn.execute(text(f"CREATE ROLE {app_user} LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEROLE NOCREATEDB{password}"))
    conn.execute(text(f"GRANT {SERVICE_ROLE} TO {app_user}"))


def _upgrade(conn: Connection, service: str, folder: Path, revision: str) -> None:
    conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{service}"'))
    conn.execute(text(f'GRANT USAGE ON SCHEMA "{service}" TO {SERVICE_ROLE}'))
    conn.commit()
    cfg = Config()
    cfg.set_main_option("script_location", str(folder))
    cfg.attributes["connection"] = conn
    command.upgrade(cfg, revision)
    conn.commit()


async def migrate(admin_url: str, app_url: str, services: list[str] | None = None) -> list[str]:
    """Bootstrap roles and extensions, then upgrade every (or the named) service to head."""
    app = make_url(app_url)
    histories = service_histories()
    chosen = [s for s in histories if not services or s in services]
    engine = create_async_engine(admin_url)
    try:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": LOCK_KEY})
            await conn.commit()
            try:
                await conn.run_sync(lambda c: _bootstrap(c, app.username or "wafaa_app", app.password))
                await conn.commit()
                for service in chosen:
                    logger.info("migrating %s", service)
                    await conn.run_sync(_upgrade, service, histories[service], "head")
            finally:
                await conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": LOCK_KEY})
                await conn.commit()
    finally:
        await engine.dispose()
    return chosen


class MigrateSettings(CommonSettings):
    """DATABASE_URL names the services' login role; DATABASE_ADMIN_URL the role that migrates."""

    service_name: str = "migrate"
    database_admin_url: SecretStr | None = None


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(prog="wafaa-migrate", description=__doc__.splitlines()[0])
    parser.add_argument("services", nargs="*", help="only these services (default: all installed)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = MigrateSettings()
    if settings.database_admin_url is None:
        print(
            "wafaa-migrate: DATABASE_ADMIN_URL is not set (a role that may create schemas and roles)", file=sys.stderr
        )
        return 2
    admin_url = settings.database_admin_url.get_secret_value()
    app_url = settings.database_url.get_secret_value()
    done = asyncio.run(migrate(admin_url, app_url, args.services or None))
    print("migrated: " + ", ".join(done))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
