"""A small async client for the WhatsApp Cloud API and Instagram messaging, with retries."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Literal

import httpx
from tenacity import (
    AsyncRetrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential_jitter,
)

from wafaa.common.meta.errors import GraphError, GraphTimeoutError
from wafaa.common.meta.settings import MetaApiSettings

logger = logging.getLogger(__name__)

Platform = Literal["whatsapp", "instagram"]
# Logged for every send that got no answer in time. The platform may have accepted it all the same, and
# the send is tried again (here, or when its event is redelivered): the one way a customer can get a
# message twice without any process failing.
SEND_TIMED_OUT = "a Graph API send timed out; it is tried again, and the platform may have accepted it already"


@dataclass(frozen=True)
class Credentials:
    """What a channel needs to call Meta: its account id and token (never logged)."""

    platform: Platform
    account_id: str
    access_token: str

    def __repr__(self) -> str:
        return f"Credentials(platform={self.platform!r}, account_id={self.account_id!r}, access_token='***')"


@dataclass(frozen=True)
class SendResult:
    platform_message_id: str
    attempts: int


class GraphClient:
    """Sends, marks read and checks tokens. Retries transient failures with exponential backoff
    and jitter (tenacity); permanent errors raise `GraphError` at once."""

    def __init__(self, settings: MetaApiSettings, http: httpx.AsyncClient | None = None) -> None:
        self.settings = settings
        self._http = http or httpx.AsyncClient(timeout=settings.graph_timeout_seconds)

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()

    def _url(self, creds: Credentials, suffix: str = "messages") -> str:
        base = (
            self.settings.whatsapp_api_base_url
            if creds.platform == "whatsapp"
            else self.settings.instagram_api_base_url
        )
        return f"{base.rstrip('/')}/{self.settings.meta_api_version}/{creds.account_id}/{suffix}".rstrip("/")

    async def _post(self, creds: Credentials, body: dict[str, Any]) -> dict[str, Any]:
        try:
            response = await self._http.post(
                self._url(creds), json=body, headers={"Authorization": f"Bearer {creds.access_token}"}
            )
        except httpx.TimeoutException as exc:
            raise GraphTimeoutError(type(exc).__name__) from exc
        except httpx.TransportError as exc:
            raise GraphError(503, None, f"transport error: {type(exc).__name__}") from exc
        try:
            data = response.json()
        except ValueError:
            data = {"raw": response.text[:300]}
        if response.status_code >= 400:
            raise GraphError.from_response(response.status_code, data)
        return data if isinstance(data, dict) else {"data": data}

    async def _with_retries(self, creds: Credentials, body: dict[str, Any]) -> tuple[dict[str, Any], int]:
        attempts = 0
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.settings.graph_max_attempts),
            wait=wait_exponential_jitter(
                multiplier=self.settings.graph_backoff_initial_seconds, max=self.settings.graph_backoff_max_seconds
            ),
            retry=retry_if_exception(lambda e: isinstance(e, GraphError) and e.retryable),
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                attempts += 1
                try:
                    return await self._post(creds, body), attempts
                except GraphTimeoutError:
                    logger.warning(SEND_TIMED_OUT, extra={"attempt": attempts})
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    async def send_text(
        self,
        creds: Credentials,
        recipient: str,
        text: str,
        *,
        reply_to: str | None = None,
        options: list[str] | None = None,
    ) -> SendResult:
        """Send one text (with reply buttons on WhatsApp when up to three options are offered)."""
        body: dict[str, Any]
        if creds.platform == "whatsapp":
            body = {"messaging_product": "whatsapp", "recipient_type": "individual", "to": recipient}
            if options and 0 < len(options) <= 3 and len(text) <= 1024:
                buttons = [
                    {"type": "reply", "reply": {"id": f"opt-{i}", "title": o[:20]}} for i, o in enumerate(options)
                ]
                body |= {
                    "type": "interactive",
                    "interactive": {"type": "button", "body": {"text": text}, "action": {"buttons": buttons}},
                }
            else:
                body |= {"type": "text", "text": {"preview_url": False, "body": text}}
            if reply_to:
                body["context"] = {"message_id": reply_to}
            data, attempts = await self._with_retries(creds, body)
            messages = data.get("messages") or [{}]
            return SendResult(str(messages[0].get("id", "")), attempts)
        body = {"recipient": {"id": recipient}, "message": {"text": text}}
        data, attempts = await self._with_retries(creds, body)
        return SendResult(str(data.get("message_id", "")), attempts)

    async def mark_read(self, creds: Credentials, message_id: str, recipient: str, *, typing: bool = True) -> None:
        """Mark the customer's message as read and show the typing indicator while we answer."""
        if creds.platform == "whatsapp":
            body: dict[str, Any] = {"messaging_product": "whatsapp", "status": "read", "message_id": message_id}
            if typing:
                body["typing_indicator"] = {"type": "text"}
        else:
            body = {"recipient": {"id": recipient}, "sender_action": "typing_on" if typing else "mark_seen"}
        await self._post(creds, body)

    async def check_token(self, creds: Credentials) -> dict[str, Any]:
        """Ask the Graph API about the account with the token; raises GraphError when it is refused."""
        try:
            response = await self._http.get(
                self._url(creds, suffix=""), headers={"Authorization": f"Bearer {creds.access_token}"}
            )
        except httpx.HTTPError as exc:
            raise GraphError(503, None, f"transport error: {type(exc).__name__}") from exc
        data = response.json() if response.headers.get("content-type", "").startswith("application/json") else {}
        if response.status_code >= 400:
            raise GraphError.from_response(response.status_code, data)
        return data if isinstance(data, dict) else {}
