"""Shared fixtures: real servers for the session, service processes, publishers, factories."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Generator, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from faststream.redis import RedisBroker
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from tests.fixtures.fake_graph import FakeGraphApi, RunningFake
from tests.fixtures.fake_pinecone import FakePinecone, RunningPinecone
from tests.fixtures.infrastructure import Infrastructure, provide_infrastructure
from tests.fixtures.processes import ServiceProcess
from wafaa.common.db.migrate import migrate
from wafaa.common.messaging import EventPublisher

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
ARTIFACTS = ROOT / "test-artifacts"
SERVICES = pytest.StashKey[list[ServiceProcess]]()  # the processes a test started, for its failure report
LOG_TAIL = 25  # lines of each service's log in a failure report (the whole log stays in test-artifacts/logs)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """A failed test that ran services shows the end of each one's log and its warnings and errors,
    so a failure on a CI machine whose clone is gone can still be read."""
    report = yield
    if report.failed and report.when == "call":
        for proc in item.stash.get(SERVICES, []):
            lines = proc.logs().splitlines()
            alarms = [line for line in lines if '"level": "warning"' in line or '"level": "error"' in line]
            text = "\n".join(
                [
                    f"running as pid {proc.pid}" if proc.returncode is None else f"exited with {proc.returncode}",
                    "warnings and errors (last 15):",
                    *alarms[-15:],
                    f"last {LOG_TAIL} lines:",
                    *lines[-LOG_TAIL:],
                ]
            )
            report.sections.append((f"{proc.name} log ({proc.log_path.name})", text))
    return report


@pytest.fixture(scope="session")
def infra() -> Iterator[Infrastructure]:
    """Running Postgres and Redis, migrated, for the whole session."""
    for infrastructure in provide_infrastructure():
        asyncio.run(migrate(infrastructure.admin_url, infrastructure.app_url))
        yield infrastructure


@pytest_asyncio.fixture(scope="session")
async def admin_engine(infra: Infrastructure) -> AsyncIterator[AsyncEngine]:
    """A superuser engine: for seeding and inspecting, never used by product code."""
    engine = create_async_engine(infra.admin_url)
    yield engine
    await engine.dispose()


@pytest_asyncio.fixture(scope="session")
async def app_engine(infra: Infrastructure) -> AsyncIterator[AsyncEngine]:
    """An engine connected as the services' role (row-level security applies)."""
    engine = create_async_engine(infra.app_url)
    yield engine
    await engine.dispose()


@pytest_asyncio.fixture
async def redis(infra: Infrastructure) -> AsyncIterator[Redis]:
    """A Redis client on an empty Redis: each test starts with no streams or groups."""
    client = Redis.from_url(infra.redis_url)
    await client.flushall()
    yield client
    await client.aclose()


@pytest_asyncio.fixture
async def publisher(infra: Infrastructure, redis: Redis) -> AsyncIterator[EventPublisher]:
    """The messaging layer's publisher, as the gateway uses it."""
    broker = RedisBroker(infra.redis_url)
    await broker.connect()
    yield EventPublisher(broker, maxlen=1_000_000, service="tests")
    await broker.stop()


@pytest.fixture
def service_env(infra: Infrastructure) -> dict[str, str]:
    """Environment for service processes: fast reclaiming so fault tests finish quickly."""
    return {
        "DATABASE_URL": infra.app_url,
        "REDIS_URL": infra.redis_url,
        "ENVIRONMENT": "test",
        "LOG_LEVEL": "INFO",
        "LOG_FORMAT": "json",
        "RECLAIM_IDLE_MS": "1500",
        "RECLAIM_POLL_INTERVAL_MS": "200",
        "CONSUMER_POLL_INTERVAL_MS": "50",
        "MAX_DELIVERIES": "3",
        "GRACEFUL_TIMEOUT": "10",
    }


@pytest.fixture
def start_service(
    service_env: dict[str, str], request: pytest.FixtureRequest, redis: Redis
) -> Iterator[Callable[..., list[ServiceProcess]]]:
    """Start N replicas of a service (`python -m wafaa.<name>` or any module) and wait until ready.

    It depends on `redis` so the per-test flush happens before any service joins its groups.
    """
    started: list[ServiceProcess] = []
    request.node.stash[SERVICES] = started
    log_dir = ARTIFACTS / "logs" / request.node.name

    def start(name: str, replicas: int = 1, ready: bool = True, **env: Any) -> list[ServiceProcess]:
        module = name if "." in name else f"wafaa.{name}"
        procs = [
            ServiceProcess(module, {**service_env, **{k.upper(): str(v) for k, v in env.items()}}, log_dir).start()
            for _ in range(replicas)
        ]
        started.extend(procs)
        if ready:
            for proc in procs:
                proc.wait_ready()
        return procs

    yield start
    for proc in started:
        proc.stop(timeout=15)


@pytest.fixture
def fake_graph() -> Iterator[FakeGraphApi]:
    """A fake Graph API (WhatsApp + Instagram) on 127.0.0.1, recording every call."""
    with RunningFake(FakeGraphApi()) as fake:
        yield fake


@pytest.fixture
def fake_pinecone() -> Iterator[FakePinecone]:
    """A fake Pinecone data plane (one cosine index) on 127.0.0.1, recording every call."""
    with RunningPinecone(FakePinecone()) as fake:
        yield fake
