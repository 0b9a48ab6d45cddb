"""What the HTTP benchmarks run against: embedded Postgres + Redis, one gateway process, a floor process."""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from tests.fixtures.infrastructure import provide_infrastructure
from tests.fixtures.processes import ServiceProcess
from wafaa.gateway.config import DEV_PLATFORM_API_KEY

OWNER_PASSWORD = "Bench-Owner-Passw0rd!"  # a throwaway tenant on an embedded database


@dataclass
class Gateway:
    process: ServiceProcess
    token: str
    tenant_id: str
    infra: Any

    @property
    def auth_headers(self) -> dict[str, str]:
        return {"authorization": f"Bearer {self.token}"}


def _logs_dir() -> Path:
    return Path(tempfile.mkdtemp(prefix="bench-http-logs-"))


@contextmanager
def gateway() -> Iterator[Gateway]:
    """Embedded servers, migrations, one gateway (`python -m wafaa.gateway`), a tenant and its owner logged in."""
    import asyncio

    from wafaa.common.db.migrate import migrate

    with contextmanager(provide_infrastructure)() as infra:
        asyncio.run(migrate(infra.admin_url, infra.app_url))
        env = {
            "DATABASE_URL": infra.app_url,
            "REDIS_URL": infra.redis_url,
            "LOG_LEVEL": "WARNING",
            "ACCESS_TOKEN_MINUTES": "240",
            "UPLOADS_DIR": tempfile.mkdtemp(prefix="bench-uploads-"),
        }
        process = ServiceProcess("wafaa.gateway", env, _logs_dir()).start()
        try:
            process.wait_ready(90)
            email = f"owner-{uuid.uuid4().hex[:8]}@bench.example"
            created = httpx.post(
                f"{process.url}/api/v1/platform/tenants",
                headers={"X-Platform-Key": DEV_PLATFORM_API_KEY},
                json={"name": "Bench Bistro", "owner_email": email, "owner_password": OWNER_PASSWORD},
                timeout=30,
            )
            created.raise_for_status()
            login = httpx.post(
                f"{process.url}/api/v1/auth/login", json={"email": email, "password": OWNER_PASSWORD}, timeout=30
            )
            login.raise_for_status()
            yield Gateway(process, login.json()["access_token"], created.json()["tenant"]["id"], infra)
        finally:
            process.stop(30)


@contextmanager
def floor(kind: str, body: bytes = b"{}", env: dict[str, str] | None = None) -> Iterator[ServiceProcess]:
    """The bare uvicorn floor (`python -m bench.floor`) for `kind`, with `env` added to its environment."""
    env = {"FLOOR_KIND": kind, "FLOOR_BODY": body.decode(), **(env or {})}
    process = ServiceProcess("bench.floor", env, _logs_dir(), name=f"floor-{kind}").start()
    try:
        process.wait_ready(30)
        yield process
    finally:
        process.stop(10)
