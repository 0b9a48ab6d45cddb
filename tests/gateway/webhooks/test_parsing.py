"""Every Meta sample payload parses into what the concierge needs, and nothing raises."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from wafaa.gateway.webhooks.parsing import parse_instagram, parse_whatsapp
from wafaa.gateway.webhooks.signature import sign, signature_is_valid, token_matches

PAYLOADS = Path(__file__).resolve().parents[3].parent / "shared" / "reference" / "meta-payloads"
OUTBOUND_MARKERS = ("_send_", "_request", "_response", "_error_", "sender_action")
INBOUND = sorted(p for p in PAYLOADS.glob("*.json") if not any(m in p.name for m in OUTBOUND_MARKERS))


def load(name: str) -> dict:
    return json.loads((PAYLOADS / name).read_text())


def test_the_sample_payloads_are_where_the_tests_expect_them() -> None:
    assert len(INBOUND) >= 14


@pytest.mark.parametrize("path", INBOUND, ids=lambda p: p.name)
def test_every_inbound_sample_yields_a_message_or_a_status(path: Path) -> None:
    body = json.loads(path.read_text())
    parsed = parse_whatsapp(body) if body.get("object") == "whatsapp_business_account" else parse_instagram(body)
    assert parsed.messages or parsed.statuses, parsed.ignored


def test_whatsapp_text_carries_sender_name_and_channel_key() -> None:
    (message,) = parse_whatsapp(load("wa_text.json")).messages
    assert message.kind == "text" and message.text
    assert message.account_id == "106540352242922"
    assert message.customer_id == "16505551234"
    assert message.customer_name == "Sheena Nelson"
    assert message.platform_message_id.startswith("wamid.")


def test_whatsapp_image_caption_is_the_text_and_the_media_is_kept() -> None:
    (message,) = parse_whatsapp(load("wa_image.json")).messages
    assert (message.kind, message.text) == ("image", "Taj Mahal")
    assert message.attachments[0]["media_id"] == "1003383421387256"


def test_whatsapp_interactive_and_template_buttons_read_as_their_titles() -> None:
    (button,) = parse_whatsapp(load("wa_interactive_button_reply.json")).messages
    (listed,) = parse_whatsapp(load("wa_interactive_list_reply.json")).messages
    (template,) = parse_whatsapp(load("wa_button.json")).messages
    assert button.kind == listed.kind == "interactive" and button.text and listed.text
    assert template.kind == "button" and template.text == "Unsubscribe" and template.reply_to


def test_whatsapp_location_reaction_and_unsupported() -> None:
    (location,) = parse_whatsapp(load("wa_location.json")).messages
    assert location.kind == "location" and location.attachments[0]["latitude"] is not None
    (reaction,) = parse_whatsapp(load("wa_reaction.json")).messages
    assert reaction.kind == "reaction" and reaction.text and reaction.reply_to
    (removed,) = parse_whatsapp(load("wa_reaction_removed.json")).messages
    assert removed.kind == "reaction" and removed.text is None
    (unsupported,) = parse_whatsapp(load("wa_unsupported.json")).messages
    assert unsupported.kind == "unsupported"


def test_whatsapp_failed_status_carries_its_error() -> None:
    (status,) = parse_whatsapp(load("wa_status_failed.json")).statuses
    assert (status.status, status.error_code) == ("failed", "131049")
    (sent,) = parse_whatsapp(load("wa_status_sent.json")).statuses
    assert sent.status == "sent" and sent.recipient_id


def test_instagram_dashboard_test_event_uses_changes_and_second_timestamps() -> None:
    (message,) = parse_instagram(load("ig_dashboard_test_event_chatwoot.json")).messages
    assert (message.kind, message.text, message.customer_id, message.account_id) == (
        "text",
        "random_text",
        "12334",
        "23245",
    )
    assert message.timestamp.year == 2018


def test_instagram_postback_reaction_and_seen() -> None:
    (postback,) = parse_instagram(load("ig_postback_doc.json")).messages
    assert postback.kind == "postback" and postback.text
    (reaction,) = parse_instagram(load("ig_reaction_doc.json")).messages
    assert reaction.kind == "reaction" and reaction.text == "\u2764\ufe0f"
    (seen,) = parse_instagram(load("ig_seen_doc.json")).statuses
    assert seen.status == "read"


def test_instagram_echo_keys_the_customer_on_the_recipient() -> None:
    body = {
        "object": "instagram",
        "entry": [{"id": "acct", "time": 1762022388574, "messaging": [{
            "sender": {"id": "acct"}, "recipient": {"id": "igsid-1"}, "timestamp": 1762022346848,
            "message": {"mid": "m-1", "text": "from the app", "is_echo": True}}]}],
    }  # fmt: skip
    (echo,) = parse_instagram(body).messages
    assert echo.is_echo and echo.customer_id == "igsid-1" and echo.account_id == "acct"


@pytest.mark.parametrize(
    "body",
    [None, [], "text", {"entry": "x"}, {"entry": [{"changes": [{"field": "messages", "value": None}]}]},
     {"entry": [{"changes": [{"field": "account_update", "value": {}}]}]},
     {"entry": [{"messaging": [{"sender": {"id": "1"}, "recipient": {"id": "2"}, "optin": {}}]}]}],
)  # fmt: skip
def test_unknown_shapes_are_ignored_never_raised(body: object) -> None:
    for parse in (parse_whatsapp, parse_instagram):
        parsed = parse(body)
        assert parsed.messages == [] and parsed.statuses == []


def test_signature_is_checked_over_the_raw_bytes() -> None:
    raw = b'{"text":"caf\\u00e9 \\/ menu"}'
    header = sign(raw, "app-secret")
    assert signature_is_valid(raw, header, "app-secret")
    reserialised = json.dumps(json.loads(raw)).encode()
    assert not signature_is_valid(reserialised, header, "app-secret")
    assert not signature_is_valid(raw, header, "other-secret")
    assert not signature_is_valid(raw, None, "app-secret")
    assert not signature_is_valid(raw, header.replace("sha256=", "sha1="), "app-secret")


def test_verify_token_comparison() -> None:
    assert token_matches("tok", "tok")
    assert not token_matches("tok", "other") and not token_matches(None, "tok") and not token_matches("", "")
