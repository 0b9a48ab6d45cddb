"""From a verified webhook to events durably in the streams, each platform id once."""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from typing import Any

from cachetools import TTLCache
from redis.asyncio import Redis
from redis.exceptions import RedisError

from wafaa.common.channels import sent_marker
from wafaa.common.db import Database
from wafaa.common.events import (
    DeliveryStatusChanged,
    DeliveryStatusChangedPayload,
    Event,
    MessageReceived,
    MessageReceivedPayload,
)
from wafaa.common.messaging import EventPublisher
from wafaa.common.secrets import SecretBox, SecretBoxError
from wafaa.gateway.channels.models import WebhookRoute
from wafaa.gateway.channels.repository import route_webhook, verify_tokens
from wafaa.gateway.errors import ApiError
from wafaa.gateway.webhooks.parsing import InboundMessage, ParsedWebhook, Platform, parse_instagram, parse_whatsapp
from wafaa.gateway.webhooks.signature import signature_is_valid, token_matches

logger = logging.getLogger(__name__)

STATUSES = {"sent", "delivered", "read", "failed", "deleted"}
ROUTE_CACHE_SIZE = 100_000  # connected accounts kept in memory at most (one route is a few hundred bytes)


def _without_nul(value: Any) -> Any:
    """The parsed body with NUL characters removed from every string (a customer can send one)."""
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, list):
        return [_without_nul(v) for v in value]
    if isinstance(value, dict):
        return {_without_nul(k): _without_nul(v) for k, v in value.items()}
    return value


def _unavailable() -> ApiError:
    """A 503: the webhook cannot be stored now, and Meta retries a 503 later."""
    return ApiError(503, "unavailable", "Cannot store the webhook right now; Meta will retry.")


@dataclass
class WebhookOutcome:
    published: int = 0
    duplicates: int = 0
    dropped: int = 0


class WebhookIntake:
    """Verifies, routes, deduplicates and publishes what Meta sends."""

    def __init__(
        self,
        db: Database,
        redis: Redis,
        publisher: EventPublisher,
        box: SecretBox,
        app_secret: str,
        verify_token: str,
        dedup_ttl_seconds: int,
        route_cache_seconds: float = 0.0,
    ) -> None:
        self.db, self.redis, self.publisher, self.box = db, redis, publisher, box
        self.app_secret, self.verify_token, self.dedup_ttl = app_secret, verify_token, dedup_ttl_seconds
        # Connected channels' routes, kept `route_cache_seconds`: a webhook for a known channel then
        # needs no database round trip (Meta sends every message and status of a number). A change to
        # a channel (paused, deleted, new app secret) reaches webhooks within that time; an unknown
        # account is never cached, so a newly connected channel is routed at once.
        self._route_cache: TTLCache[tuple[str, str], WebhookRoute] | None = (
            TTLCache(maxsize=ROUTE_CACHE_SIZE, ttl=route_cache_seconds) if route_cache_seconds > 0 else None
        )
        # Lookups under way, shared by every request for the same account meanwhile. When a busy number's
        # route expires, the requests in flight (as many as Meta's open connections) would otherwise each
        # query Postgres for it: at full speed in `bench.webhooks` that was 5% of the gateway's CPU.
        self._lookups: dict[tuple[str, str], asyncio.Future[WebhookRoute | None]] = {}

    async def handshake_ok(self, platform: Platform, mode: str | None, token: str | None) -> bool:
        """Meta's subscription check: the platform app's token or a channel's own."""
        if mode != "subscribe" or not token:
            return False
        if token_matches(token, self.verify_token):
            return True
        async with self.db.transaction(None) as session:
            encrypted = await verify_tokens(session, platform)
        for value in encrypted:
            try:
                if token_matches(token, self.box.decrypt(value)):
                    return True
            except SecretBoxError:
                logger.warning("a channel's verify token cannot be decrypted with the configured key")
        return False

    async def receive(
        self, platform: Platform, raw: bytes, signature: str | None, request_id: str | None
    ) -> WebhookOutcome:
        """Check the signature over the raw bytes, then publish every new message and status."""
        try:
            body = json.loads(raw)
        except (ValueError, RecursionError) as exc:  # RecursionError: nesting deeper than the stack
            if not signature_is_valid(raw, signature, self.app_secret):
                raise ApiError(401, "invalid_signature", "The webhook signature does not match.") from exc
            raise ApiError(400, "invalid_json", "The webhook body is not JSON.") from exc
        if b"\\u0000" in raw:  # JSON's only way to carry NUL, which Postgres text and jsonb cannot store
            body = _without_nul(body)
        parsed = parse_whatsapp(body) if platform == "whatsapp" else parse_instagram(body)
        routes = await self._routes(platform, parsed)
        trusted = self._trusted(raw, signature, routes)
        if trusted is None:
            raise ApiError(401, "invalid_signature", "The webhook signature does not match.")
        outcome = WebhookOutcome(dropped=len(parsed.ignored))
        for reason in parsed.ignored:
            logger.info("webhook item ignored", extra={"platform": platform, "reason": reason})
        events: list[tuple[str, Event[Any]]] = []
        for message in parsed.messages:
            route = routes.get(message.account_id)
            if route is None or message.account_id not in trusted:
                outcome.dropped += 1
                logger.info("webhook for an unknown channel dropped", extra={"platform": platform})
                continue
            if message.is_echo and await self._ours(route, message.platform_message_id):
                outcome.dropped += 1
                continue
            events.append((f"{platform}:m:{message.platform_message_id}", self._message_event(route, message)))
        for status in parsed.statuses:
            route = routes.get(status.account_id)
            if route is None or status.account_id not in trusted or status.status not in STATUSES:
                outcome.dropped += 1
                continue
            event = DeliveryStatusChanged(
                tenant_id=route.tenant_id,
                payload=DeliveryStatusChangedPayload(
                    channel=platform, platform_message_id=status.platform_message_id, status=status.status,  # type: ignore[arg-type]
                    recipient_id=status.recipient_id, status_at=status.timestamp, error_code=status.error_code,
                    error_message=status.error_message,
                ),
            )  # fmt: skip
            events.append((f"{platform}:s:{status.platform_message_id}:{status.status}", event))
        for key, event in events:
            if await self._publish_once(key, event, request_id):
                outcome.published += 1
            else:
                outcome.duplicates += 1
        return outcome

    async def _routes(self, platform: Platform, parsed: ParsedWebhook) -> dict[str, WebhookRoute | None]:
        accounts = {m.account_id for m in parsed.messages} | {s.account_id for s in parsed.statuses}
        return {account: await self._route(platform, account) for account in accounts}

    async def _route(self, platform: Platform, account: str) -> WebhookRoute | None:
        key = (platform, account)
        if self._route_cache is not None and (cached := self._route_cache.get(key)) is not None:
            return cached
        lookup = self._lookups.get(key)
        if lookup is None:
            lookup = self._lookups[key] = asyncio.ensure_future(self._look_up(platform, account))
            lookup.add_done_callback(lambda _: self._lookups.pop(key, None))
        try:
            return await asyncio.shield(lookup)  # a caller going away does not cancel the others' lookup
        except Exception as exc:
            raise _unavailable() from exc

    async def _look_up(self, platform: Platform, account: str) -> WebhookRoute | None:
        try:
            async with self.db.transaction(None) as session:
                route = await route_webhook(session, platform, account)
        except Exception:
            logger.exception("channel lookup failed")
            raise
        if route is not None and self._route_cache is not None:
            self._route_cache[(platform, account)] = route
        return route

    def _trusted(self, raw: bytes, signature: str | None, routes: dict[str, WebhookRoute | None]) -> set[str] | None:
        """Accounts whose app secret signed this body; None when nothing did (reject the request)."""
        platform_ok = signature_is_valid(raw, signature, self.app_secret)
        trusted: set[str] = set()
        for account, route in routes.items():
            if route is None:
                continue
            if route.app_secret_encrypted is None:
                if platform_ok:
                    trusted.add(account)
                continue
            try:
                secret = self.box.decrypt(route.app_secret_encrypted)
            except SecretBoxError:
                logger.warning("a channel's app secret cannot be decrypted with the configured key")
                continue
            if signature_is_valid(raw, signature, secret):
                trusted.add(account)
        return trusted if (platform_ok or trusted) else None

    async def _ours(self, route: WebhookRoute, platform_message_id: str) -> bool:
        try:
            return bool(await self.redis.exists(sent_marker(route.tenant_id, platform_message_id)))
        except RedisError as exc:
            raise _unavailable() from exc

    @staticmethod
    def _message_event(route: WebhookRoute, m: InboundMessage) -> MessageReceived:
        return MessageReceived(
            tenant_id=route.tenant_id,
            payload=MessageReceivedPayload(
                channel=m.platform, channel_id=route.channel_id, platform_message_id=m.platform_message_id,
                customer_id=m.customer_id, customer_name=m.customer_name,
                kind="agent_echo" if m.is_echo else m.kind, text=m.text, received_at=m.timestamp,
                reply_to_platform_message_id=m.reply_to, attachments=m.attachments,
                channel_paused=route.status != "active",
            ),
        )  # fmt: skip

    async def _publish_once(self, key: str, event: Event[Any], request_id: str | None) -> bool:
        """Claim the platform id (Meta re-delivers for days) and append the event, as one atomic step."""
        marker = f"tenant:{event.tenant_id}:webhook:{key}"
        try:
            return await self.publisher.publish_once(
                event, claim=marker, ttl_seconds=self.dedup_ttl, request_id=request_id
            )
        except Exception as exc:  # a refused append, a lost connection, a timeout: Meta must retry
            logger.exception("could not append the webhook's event to its stream")
            raise _unavailable() from exc
