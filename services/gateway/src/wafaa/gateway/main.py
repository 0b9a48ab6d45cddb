"""Composition root of the gateway: FastAPI app, broker for publishing, database, routes."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from faststream.asgi import make_asyncapi_asgi
from faststream.redis import RedisBroker, StreamSub
from faststream.specification import AsyncAPI
from prometheus_client import make_asgi_app
from redis.asyncio import Redis
from starlette.types import Receive, Scope, Send

from wafaa.common.db import Database, exactly_once
from wafaa.common.db.inbox import TransactionalHandler
from wafaa.common.events import ALL_EVENTS, ChannelPaused, DocumentStatusChanged, Event
from wafaa.common.knowledge import make_vector_store
from wafaa.common.messaging import ConsumerOptions, EventConsumer, EventPublisher, ensure_groups
from wafaa.common.messaging.client import redis_client
from wafaa.common.meta import GraphClient
from wafaa.common.observability import configure_logging
from wafaa.common.providers import make_embedder
from wafaa.common.runtime.heap import freeze_startup_heap
from wafaa.common.runtime.worker import make_broker
from wafaa.common.secrets import SecretBox
from wafaa.gateway.analytics.endpoints import router as analytics_router
from wafaa.gateway.audit.endpoints import router as audit_router
from wafaa.gateway.auth.endpoints import router as auth_router
from wafaa.gateway.auth.passwords import PasswordHasher
from wafaa.gateway.auth.service import Authenticator
from wafaa.gateway.auth.throttle import Blocklist, LoginThrottle
from wafaa.gateway.auth.tokens import TokenService
from wafaa.gateway.channels.endpoints import router as channels_router
from wafaa.gateway.channels.handlers import on_channel_paused
from wafaa.gateway.chat.endpoints import router as chat_router
from wafaa.gateway.config import GatewaySettings
from wafaa.gateway.conversations.endpoints import router as conversations_router
from wafaa.gateway.dashboard import mount_dashboard
from wafaa.gateway.database import ProcessedEvent
from wafaa.gateway.errors import document_unreadable_bodies, install_error_handlers
from wafaa.gateway.health.endpoints import router as health_router
from wafaa.gateway.knowledge.endpoints import UploadBodyLimit
from wafaa.gateway.knowledge.endpoints import router as knowledge_router
from wafaa.gateway.knowledge.files import FileStore
from wafaa.gateway.knowledge.handlers import on_document_status_changed
from wafaa.gateway.knowledge.service import UploadLimits
from wafaa.gateway.middleware import RequestIdMiddleware
from wafaa.gateway.platform.endpoints import router as platform_router
from wafaa.gateway.tenants.endpoints import router as tenants_router
from wafaa.gateway.users.endpoints import router as users_router
from wafaa.gateway.webhooks.endpoints import router as webhooks_router
from wafaa.gateway.webhooks.ingress import WebhookIngress
from wafaa.gateway.webhooks.service import WebhookIntake

logger = logging.getLogger(__name__)


def _declare_event_catalog(broker: RedisBroker, maxlen: int) -> None:
    """Declare a publisher per event so the AsyncAPI document lists the whole catalog."""
    for event_type in ALL_EVENTS:
        broker.publisher(
            stream=StreamSub(event_type.stream, maxlen=maxlen),
            schema=event_type,
            title=event_type.stream,
            description=(event_type.__doc__ or "").strip(),
        )


def build_authenticator(settings: GatewaySettings, redis: Redis) -> Authenticator:
    """Tokens, password hashing, login throttle and logout blocklist from the settings."""
    return Authenticator(
        tokens=TokenService(settings),
        hasher=PasswordHasher(settings.bcrypt_rounds),
        throttle=LoginThrottle(
            redis, settings.login_max_attempts, settings.login_max_attempts_per_ip, settings.login_window_seconds
        ),
        blocklist=Blocklist(redis),
    )


def subscribe_handlers(consumer: EventConsumer, db: Database) -> None:
    """The events the gateway consumes, each applied exactly once in one tenant transaction."""

    def on(event_type: type[Event[Any]], handler: TransactionalHandler[Any]) -> None:
        consumer.subscribe(event_type, exactly_once(db, ProcessedEvent, "gateway", consumer.options.consumer, handler))

    for event_type, handler in SUBSCRIPTIONS:
        on(event_type, handler)


# (event, handler) pairs, one line per domain handler.
SUBSCRIPTIONS: list[tuple[type[Event[Any]], TransactionalHandler[Any]]] = [
    (ChannelPaused, on_channel_paused),
    (DocumentStatusChanged, on_document_status_changed),
]


class GatewayApp(FastAPI):
    """The REST application behind two plain ASGI layers that every request but lifespan passes first.

    The request-id middleware (ids on every response and log line, FastAPI's own 500s included), then the
    webhook ingress, which answers Meta's deliveries without any of FastAPI's per-request layers (see
    webhooks/ingress.py); every other request goes on to FastAPI as usual.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._front = RequestIdMiddleware(WebhookIngress(super().__call__, self.state))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await super().__call__(scope, receive, send)
            return
        await self._front(scope, receive, send)


def create_app(settings: GatewaySettings | None = None) -> FastAPI:
    """Build the gateway application."""
    settings = settings or GatewaySettings()
    configure_logging("gateway", settings.log_level, settings.log_format)
    broker = make_broker(settings)
    _declare_event_catalog(broker, settings.stream_maxlen)
    db = Database.from_settings(settings)
    redis = redis_client(settings)
    consumer = EventConsumer(broker, ConsumerOptions.from_settings(settings, "gateway"), redis)
    subscribe_handlers(consumer, db)
    asyncapi = AsyncAPI(broker, title="Wafaa AI Concierge events", version="1.0.0")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            await ensure_groups(redis)
        except Exception:
            logger.warning("could not declare consumer groups at start-up", exc_info=True)
        async with broker:
            await broker.start()
            freeze_startup_heap("gateway start-up")
            yield
        await app.state.graph.aclose()
        await app.state.vector_store.aclose()
        await db.dispose()
        await redis.aclose()

    app = GatewayApp(
        title="Wafaa AI Concierge API",
        version="1.0.0",
        lifespan=lifespan,
        docs_url="/docs" if settings.docs_enabled else None,
        redoc_url=None,
        openapi_url="/openapi.json" if settings.docs_enabled else None,
    )
    app.state.settings = settings
    app.state.db = db
    app.state.redis = redis
    app.state.broker = broker
    app.state.publisher = EventPublisher(broker, maxlen=settings.stream_maxlen, service="gateway", redis=redis)
    app.state.auth = build_authenticator(settings, redis)
    app.state.embedder = make_embedder(settings)
    app.state.vector_store = make_vector_store(settings)
    app.state.upload_limits = UploadLimits(
        store=FileStore(settings.uploads_dir),
        max_file_bytes=settings.knowledge_max_file_mb * 2**20,
        max_files=settings.knowledge_max_files_per_request,
        max_tenant_bytes=settings.knowledge_max_tenant_storage_mb * 2**20,
    )
    app.state.secret_box = SecretBox(settings.channel_secrets_key.get_secret_value())
    app.state.graph = GraphClient(settings)
    app.state.webhooks = WebhookIntake(
        db, redis, app.state.publisher, app.state.secret_box,
        settings.meta_app_secret.get_secret_value(), settings.meta_verify_token.get_secret_value(),
        settings.webhook_dedup_ttl_seconds, settings.webhook_route_cache_seconds,
    )  # fmt: skip

    install_error_handlers(app)
    document_unreadable_bodies(app)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=[o for o in settings.cors_origins if o != "*"],
        allow_credentials=True,
        allow_methods=["GET", "POST", "PATCH", "PUT", "DELETE"],
        allow_headers=["Authorization", "Content-Type", "X-Request-ID"],
    )
    # multipart framing on top of the files themselves
    upload_body_limit = settings.knowledge_max_files_per_request * settings.knowledge_max_file_mb * 2**20 + 2**20
    app.add_middleware(UploadBodyLimit, max_bytes=upload_body_limit)
    app.include_router(health_router)
    app.include_router(webhooks_router)
    routers = (auth_router, tenants_router, users_router, audit_router, platform_router, channels_router)
    for router in (*routers, knowledge_router, chat_router, conversations_router, analytics_router):
        app.include_router(router)

    @app.get("/asyncapi.json", include_in_schema=False)
    async def asyncapi_document() -> dict[str, Any]:
        """Every event of the system, as an AsyncAPI 3 document."""
        document: dict[str, Any] = asyncapi.to_specification().to_jsonable()
        return document

    app.mount("/metrics", make_asgi_app())
    app.mount("/asyncapi", make_asyncapi_asgi(asyncapi))
    mount_dashboard(app, settings.dashboard_dir)  # only what no route above matches
    return app
