"""Tolerant parsing of WhatsApp Cloud API and Instagram webhook bodies into plain records.

Meta batches (several entries, changes and messages in one POST), adds fields over time and
sends kinds we do not handle: every item is read on its own, anything unknown is reported in
`ignored` and never raises.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

Platform = Literal["whatsapp", "instagram"]

WHATSAPP_MEDIA = ("image", "video", "audio", "document", "sticker")


@dataclass(frozen=True)
class InboundMessage:
    """Something a customer did in a chat (a message, a reaction, a button tap, an unsend)."""

    platform: Platform
    account_id: str
    platform_message_id: str
    customer_id: str
    kind: str
    timestamp: datetime
    text: str | None = None
    customer_name: str | None = None
    reply_to: str | None = None
    attachments: list[dict[str, Any]] = field(default_factory=list)
    is_echo: bool = False


@dataclass(frozen=True)
class StatusUpdate:
    """The platform's news about one of our outbound messages."""

    platform: Platform
    account_id: str
    platform_message_id: str
    status: str
    timestamp: datetime
    recipient_id: str | None = None
    error_code: str | None = None
    error_message: str | None = None


@dataclass
class ParsedWebhook:
    messages: list[InboundMessage] = field(default_factory=list)
    statuses: list[StatusUpdate] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)


def _time(value: Any) -> datetime:
    """WhatsApp sends seconds as strings, Instagram milliseconds as integers (test events: seconds)."""
    try:
        number = float(value)
        if number > 10_000_000_000:  # milliseconds
            number /= 1000
        return datetime.fromtimestamp(number, UTC)
    except (TypeError, ValueError, OverflowError, OSError):  # not a number, NaN, ±inf, out of range
        return datetime.now(UTC)


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _str(value: Any) -> str | None:
    """A text field as Meta sends it (a string); anything else in a signed body is dropped, not a 500."""
    return value if isinstance(value, str) else None


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def parse_whatsapp(body: Any) -> ParsedWebhook:
    """Every message and status of a `whatsapp_business_account` webhook."""
    parsed = ParsedWebhook()
    for entry in _list(_dict(body).get("entry")):
        for change in _list(_dict(entry).get("changes")):
            change = _dict(change)
            if change.get("field") != "messages":
                parsed.ignored.append(f"field {change.get('field')!r}")
                continue
            value = _dict(change.get("value"))
            account = str(_dict(value.get("metadata")).get("phone_number_id") or "")
            if not account:
                parsed.ignored.append("change without metadata.phone_number_id")
                continue
            names = {
                str(c.get("wa_id") or c.get("user_id")): _dict(c.get("profile")).get("name")
                for c in map(_dict, _list(value.get("contacts")))
            }
            for raw in map(_dict, _list(value.get("messages"))):
                message = _whatsapp_message(account, raw, names)
                if message is None:
                    parsed.ignored.append(f"message without id or sender: {sorted(raw)[:6]}")
                else:
                    parsed.messages.append(message)
            for raw in map(_dict, _list(value.get("statuses"))):
                if not raw.get("id") or not raw.get("status"):
                    parsed.ignored.append("status without id or status")
                    continue
                error = _dict(next(iter(_list(raw.get("errors"))), {}))
                parsed.statuses.append(
                    StatusUpdate(
                        platform="whatsapp",
                        account_id=account,
                        platform_message_id=str(raw["id"]),
                        status=str(raw["status"]),
                        timestamp=_time(raw.get("timestamp")),
                        recipient_id=raw.get("recipient_id"),
                        error_code=str(error["code"]) if "code" in error else None,
                        error_message=error.get("message") or error.get("title"),
                    )
                )
    return parsed


def _whatsapp_message(account: str, raw: dict[str, Any], names: dict[str, Any]) -> InboundMessage | None:
    message_id = raw.get("id")
    sender = raw.get("from") or raw.get("from_user_id")
    if not message_id or not sender:
        return None
    kind = str(raw.get("type") or "unsupported")
    content = _dict(raw.get(kind))
    text: str | None = None
    attachments: list[dict[str, Any]] = []
    reply_to = _dict(raw.get("context")).get("id")
    if kind == "text":
        text = content.get("body")
    elif kind in WHATSAPP_MEDIA:
        text = content.get("caption")
        attachments.append(
            {
                "type": kind,
                "media_id": content.get("id"),
                "mime_type": content.get("mime_type"),
                "filename": content.get("filename"),
            }
        )
        if kind == "audio" and content.get("voice"):
            kind = "voice"
    elif kind == "location":
        attachments.append(
            {"type": "location", **{k: content.get(k) for k in ("latitude", "longitude", "name", "address")}}
        )
    elif kind == "contacts":
        attachments.append({"type": "contacts", "contacts": _list(raw.get("contacts"))})
    elif kind == "interactive":
        reply = _dict(content.get(str(content.get("type"))))
        text = reply.get("title")
        attachments.append({"type": str(content.get("type")), "id": reply.get("id"), "title": reply.get("title")})
    elif kind == "button":
        text = content.get("text") or content.get("payload")
        attachments.append({"type": "button", "payload": content.get("payload")})
    elif kind == "reaction":
        text = content.get("emoji") or None
        reply_to = content.get("message_id")
    elif kind == "order":
        attachments.append({"type": "order", "order": content})
    else:
        kind = "unsupported"
    return InboundMessage(
        platform="whatsapp",
        account_id=account,
        platform_message_id=str(message_id),
        customer_id=str(sender),
        kind=kind,
        timestamp=_time(raw.get("timestamp")),
        text=_str(text),
        customer_name=_str(names.get(str(sender))),
        reply_to=_str(reply_to),
        attachments=attachments,
    )


def parse_instagram(body: Any) -> ParsedWebhook:
    """Every event of an `instagram` webhook: `messaging[]`, `standby[]` and the dashboard's `changes[]`."""
    parsed = ParsedWebhook()
    for entry in map(_dict, _list(_dict(body).get("entry"))):
        events = [*_list(entry.get("messaging")), *_list(entry.get("standby"))]
        for change in map(_dict, _list(entry.get("changes"))):
            if change.get("field") == "messages":
                events.append(change.get("value"))
            else:
                parsed.ignored.append(f"field {change.get('field')!r}")
        for event in map(_dict, events):
            _instagram_event(str(entry.get("id") or ""), event, parsed)
    return parsed


def _instagram_event(entry_id: str, event: dict[str, Any], parsed: ParsedWebhook) -> None:
    sender = str(_dict(event.get("sender")).get("id") or "")
    recipient = str(_dict(event.get("recipient")).get("id") or "")
    when = _time(event.get("timestamp"))
    message = _dict(event.get("message"))
    echo = bool(message.get("is_echo"))
    account = (sender if echo else recipient) or entry_id
    customer = recipient if echo else sender
    if not account or not customer:
        parsed.ignored.append("event without sender or recipient")
        return

    def add(
        kind: str, mid: Any, text: Any = None, *, reply_to: Any = None, attachments: list[dict[str, Any]] | None = None
    ) -> None:
        if not mid:
            parsed.ignored.append(f"{kind} without mid")
            return
        parsed.messages.append(
            InboundMessage(
                platform="instagram",
                account_id=account,
                platform_message_id=str(mid),
                customer_id=customer,
                kind=kind,
                timestamp=when,
                text=_str(text),
                is_echo=echo,
                reply_to=_str(reply_to),
                attachments=attachments or [],
            )
        )

    if message:
        attachments = [
            {"type": a.get("type"), "url": _dict(a.get("payload")).get("url")}
            for a in map(_dict, _list(message.get("attachments")))
        ]
        reply_to = _dict(message.get("reply_to")).get("mid")
        if message.get("is_deleted"):
            add("deleted", message.get("mid"))
        elif message.get("is_unsupported"):
            add("unsupported", message.get("mid"))
        elif message.get("text") is not None:
            add("text", message.get("mid"), message.get("text"), attachments=attachments, reply_to=reply_to)
        elif attachments:
            add(
                str(attachments[0]["type"] or "attachment"),
                message.get("mid"),
                attachments=attachments,
                reply_to=reply_to,
            )
        else:
            add("unsupported", message.get("mid"))
    elif "reaction" in event:
        reaction = _dict(event.get("reaction"))
        emoji = reaction.get("emoji") if reaction.get("action") != "unreact" else None
        add("reaction", f"{reaction.get('mid')}:reaction:{when.timestamp()}", emoji, reply_to=reaction.get("mid"))
    elif "postback" in event:
        postback = _dict(event.get("postback"))
        payload = {"type": "postback", "payload": postback.get("payload")}
        add("postback", postback.get("mid"), postback.get("title"), attachments=[payload])
    elif "read" in event:
        mid = _dict(event.get("read")).get("mid")
        if mid:
            parsed.statuses.append(
                StatusUpdate(
                    platform="instagram",
                    account_id=account,
                    platform_message_id=str(mid),
                    status="read",
                    timestamp=when,
                    recipient_id=customer,
                )
            )
    else:
        parsed.ignored.append(
            f"instagram event kind {sorted(k for k in event if k not in ('sender', 'recipient', 'timestamp'))}"
        )
