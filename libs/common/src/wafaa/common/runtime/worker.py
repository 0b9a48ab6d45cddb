"""A worker service process: a FastStream app on Redis Streams, served over HTTP for probes.

`/health` answers while the process is alive, `/ready` once Postgres and Redis both answer,
`/metrics` in the Prometheus text format. SIGTERM (from uvicorn) stops the broker gracefully:
handlers in flight finish within `graceful_timeout`, anything unacknowledged stays pending. A
shutdown still running at its deadline logs the tasks it waits for and ends the process (see
`watchdog`).

A worker that starts while Redis is restarting, loading its append-only file or too busy to answer
keeps trying (with backoff, each failure logged, `/ready` 503 meanwhile) instead of giving up: FastStream
starts the broker after the ASGI startup completed, so a failed start used to leave a process that
answered HTTP but consumed nothing.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, TypeVar

import uvicorn
from faststream.asgi import AsgiFastStream
from faststream.redis import RedisBroker
from faststream.specification import AsyncAPI
from prometheus_client import make_asgi_app
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from tenacity import AsyncRetrying, before_sleep_log, retry_if_exception_type, wait_exponential_jitter

from wafaa.common.config import CommonSettings
from wafaa.common.db.engine import Database
from wafaa.common.db.inbox import TransactionalHandler, exactly_once, exactly_once_together
from wafaa.common.events import Event
from wafaa.common.messaging.client import command_retry, redis_client
from wafaa.common.messaging.consumer import ConsumerOptions, EventConsumer
from wafaa.common.messaging.publisher import EventPublisher
from wafaa.common.messaging.topology import ensure_groups
from wafaa.common.observability.logging import configure_logging
from wafaa.common.runtime.watchdog import ShutdownWatchdog, shutdown_deadline

E = TypeVar("E", bound=Event[Any])
logger = logging.getLogger(__name__)


def until_redis_answers() -> AsyncRetrying:
    """Retry while Redis is unreachable or too slow to answer (never gives up; SIGTERM cancels it)."""
    return AsyncRetrying(
        retry=retry_if_exception_type((RedisConnectionError, RedisTimeoutError, OSError)),
        wait=wait_exponential_jitter(multiplier=0.2, max=5.0),
        before_sleep=before_sleep_log(logger, logging.WARNING),
        reraise=True,
    )


ASGIApp = Callable[[MutableMapping[str, Any], Any, Any], Awaitable[None]]


def _json_app(probe: Callable[[], Awaitable[tuple[int, dict[str, Any]]]]) -> ASGIApp:
    async def app(scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
        status, body = await probe()
        payload = json.dumps(body).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": payload})

    return app


class WorkerRuntime:
    """Everything a worker's `main.py` wires: broker, database, consumer, publisher, probes."""

    def __init__(self, settings: CommonSettings, service: str, *, use_database: bool = True) -> None:
        self.settings = settings
        self.service = service
        configure_logging(service, settings.log_level, settings.log_format)
        self.broker = make_broker(settings)
        self.db = Database.from_settings(settings) if use_database else None
        self.redis = redis_client(settings)
        self.consumer = EventConsumer(self.broker, ConsumerOptions.from_settings(settings, service), self.redis)
        self.publisher = EventPublisher(self.broker, maxlen=settings.stream_maxlen, service=service, redis=self.redis)
        self.watchdog = ShutdownWatchdog(shutdown_deadline(settings.graceful_timeout))

    def on(
        self,
        event_type: type[E],
        handler: TransactionalHandler[E],
        *,
        inbox: type[Any],
        concurrency: int = 1,
        group_commit: bool = False,
    ) -> None:
        """Apply `handler` exactly once per event: one tenant transaction that also writes the inbox row.

        `concurrency` > 1 handles that many events at once, out of stream order (see EventConsumer).
        `group_commit` applies the events of one read batch in a single transaction instead (see
        `exactly_once_together`), for handlers whose only effects are in that transaction.
        """
        if self.db is None:
            raise RuntimeError(f"{self.service} runs without a database")
        consumer = self.consumer.options.consumer
        self.consumer.subscribe(
            event_type,
            exactly_once(self.db, inbox, self.service, consumer, handler),
            concurrency=concurrency,
            together=exactly_once_together(self.db, inbox, self.service, consumer, handler) if group_commit else None,
        )

    async def check_ready(self) -> tuple[int, dict[str, Any]]:
        """Every subscriber consuming, and Postgres and Redis both reachable within a second each."""
        checks: dict[str, str] = {}
        stopped = [s for s in self.broker.subscribers if not s.running]
        checks["consumers"] = "ok" if self.broker.subscribers and not stopped else f"error: {len(stopped)} stopped"
        try:
            await asyncio.wait_for(self.redis.ping(), 1.0)
            checks["redis"] = "ok"
        except Exception as exc:  # noqa: BLE001 - any failure means not ready
            checks["redis"] = f"error: {type(exc).__name__}"
        if self.db is not None:
            try:
                await asyncio.wait_for(self.db.ping(), 1.0)
                checks["database"] = "ok"
            except Exception as exc:  # noqa: BLE001
                checks["database"] = f"error: {type(exc).__name__}"
        ok = all(v == "ok" for v in checks.values())
        return (200 if ok else 503), {
            "status": "ok" if ok else "unavailable",
            "service": self.service,
            "checks": checks,
        }

    async def _alive(self) -> tuple[int, dict[str, Any]]:
        return 200, {"status": "ok", "service": self.service, "consumer": self.consumer.options.consumer}

    def asgi(self) -> AsgiFastStream:
        """The ASGI app uvicorn serves: the broker's lifespan plus the probe routes."""
        app = AsgiFastStream(
            self.broker,
            asgi_routes=[
                ("/health", _json_app(self._alive)),  # type: ignore[list-item]
                ("/ready", _json_app(self.check_ready)),  # type: ignore[list-item]
                ("/metrics", make_asgi_app()),
            ],
            specification=AsyncAPI(title=f"wafaa-{self.service}", version="1.0.0"),
        )

        @app.on_startup
        async def declare_groups() -> None:
            async for attempt in until_redis_answers():
                with attempt:
                    await ensure_groups(self.redis)

        @app.on_shutdown
        async def start_the_clock() -> None:
            self.watchdog.arm()

        @app.after_shutdown
        async def close() -> None:
            # the broker stopped reading; entries still handled (concurrency > 1) finish before the pools close
            await self.consumer.drain(self.settings.graceful_timeout)
            if self.db is not None:
                await self.db.dispose()
            await self.redis.aclose()
            self.watchdog.disarm()

        return app


class PatientRedisBroker(RedisBroker):
    """A RedisBroker whose start is retried until Redis answers, from a clean state each time."""

    async def start(self) -> None:
        async for attempt in until_redis_answers():
            with attempt:
                try:
                    await super().start()
                except BaseException:
                    try:  # the subscribers that did start stop again, and the connection is dropped
                        await super().stop()
                    except Exception:
                        logger.warning("could not undo a failed broker start", exc_info=True)
                    raise


def make_broker(settings: CommonSettings) -> RedisBroker:
    """A broker whose per-message access log goes to our JSON logs at DEBUG (not per message at INFO)."""
    return PatientRedisBroker(
        settings.redis_url.get_secret_value(),
        graceful_timeout=settings.graceful_timeout,
        logger=logging.getLogger("wafaa.broker"),
        log_level=logging.DEBUG,
        retry=command_retry(),  # passed to the broker's connection pool, which has none otherwise
    )


def serve(app_path: str, settings: CommonSettings, default_port: int) -> None:
    """Run a worker's ASGI app under uvicorn with graceful shutdown on SIGTERM."""
    port = int(getattr(settings, "port", 0) or default_port)
    uvicorn.run(
        app_path,
        host=getattr(settings, "host", "127.0.0.1"),
        port=port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=int(settings.graceful_timeout) + 5,
        lifespan="on",
    )
