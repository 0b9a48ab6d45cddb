"""Fuzzing Meta webhook parsing and the `X-Hub-Signature-256` check.

Meta batches events, adds fields over time and anyone on the internet can POST to the endpoint, so
the parsers must turn any JSON into records or `ignored` reasons (the endpoint would otherwise answer
500 and Meta would retry for days), and the signature check must answer True/False for any header.
"""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from pathlib import Path
from typing import Any, cast

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from tests.fuzz.strategies import json_values, mutated
from wafaa.gateway.errors import ApiError
from wafaa.gateway.webhooks.parsing import (
    InboundMessage,
    ParsedWebhook,
    Platform,
    StatusUpdate,
    parse_instagram,
    parse_whatsapp,
)
from wafaa.gateway.webhooks.service import WebhookIntake
from wafaa.gateway.webhooks.signature import PREFIX, sign, signature_is_valid

pytestmark = pytest.mark.fuzz

PAYLOADS = Path(__file__).resolve().parents[2].parent / "shared" / "reference" / "meta-payloads"
OUTBOUND_MARKERS = ("_send_", "_request", "_response", "_error_", "sender_action")


def _inbound(prefix: str) -> list[Any]:
    if not PAYLOADS.is_dir():
        return []
    return [
        json.loads(p.read_text())
        for p in sorted(PAYLOADS.glob(f"{prefix}_*.json"))
        if not any(m in p.name for m in OUTBOUND_MARKERS)
    ]


WHATSAPP_SEEDS = _inbound("wa")
INSTAGRAM_SEEDS = _inbound("ig")
needs_payloads = pytest.mark.skipif(
    not (WHATSAPP_SEEDS and INSTAGRAM_SEEDS), reason=f"Meta sample payloads not found in {PAYLOADS}"
)

# A message whose only oddity is its timestamp. Found by the mutated-payload tests below: NaN, ±inf, huge
# ints and out-of-range seconds made `_time` raise ValueError/OverflowError/OSError (a 500 to Meta).
# Kept as explicit examples on the any-JSON tests, which run even without the sample payloads.
WA_WITH_TIMESTAMP = {
    "entry": [
        {
            "changes": [
                {
                    "field": "messages",
                    "value": {"metadata": {"phone_number_id": "1"}, "messages": [{"id": "m", "from": "c"}]},
                }
            ]
        }
    ]
}


def _wa_timestamp(value: Any) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(json.dumps(WA_WITH_TIMESTAMP))
    body["entry"][0]["changes"][0]["value"]["messages"][0]["timestamp"] = value
    return body


def _ig_timestamp(value: Any) -> dict[str, Any]:
    return {"entry": [{"id": "1", "messaging": [{"sender": {"id": "c"}, "timestamp": value, "message": {"mid": "m"}}]}]}


def _assert_well_formed(parsed: object) -> None:
    """The fields the intake builds keys and events from have the types it relies on."""
    assert isinstance(parsed, ParsedWebhook)
    for message in parsed.messages:
        assert isinstance(message, InboundMessage)
        assert isinstance(message.account_id, str) and message.account_id
        assert isinstance(message.platform_message_id, str) and message.platform_message_id
        assert isinstance(message.customer_id, str) and message.customer_id
        assert isinstance(message.kind, str)
        assert isinstance(message.timestamp, datetime) and message.timestamp.tzinfo is not None
        # the MessageReceived payload takes these as text: a JSON object here would be a 500 for a signed body
        assert all(value is None or isinstance(value, str) for value in (message.text, message.customer_name))
        assert message.reply_to is None or isinstance(message.reply_to, str)
    for status in parsed.statuses:
        assert isinstance(status, StatusUpdate)
        assert isinstance(status.account_id, str) and status.account_id
        assert isinstance(status.platform_message_id, str) and status.platform_message_id
        assert isinstance(status.timestamp, datetime) and status.timestamp.tzinfo is not None
    assert all(isinstance(reason, str) for reason in parsed.ignored)


# --- parsing ----------------------------------------------------------------------------------------


@given(json_values)
@example(_wa_timestamp(float("nan")))
@example(_wa_timestamp(float("inf")))
@example(_wa_timestamp(10**400))
@example(_wa_timestamp("1e20"))
@example(_wa_timestamp(-1e12))
@example({"entry": [{"changes": [{"field": "messages", "value": {"metadata": {"phone_number_id": "1"}, "contacts": [
    {"wa_id": "c", "profile": {"name": {"x": 1}}}], "messages": [{"id": "m", "from": "c", "type": "text",
    "text": {"body": {"x": 1}}, "context": {"id": [1]}}]}}]}]})  # fmt: skip
def test_parse_whatsapp_never_raises_on_any_json(body: Any) -> None:
    """Any JSON body becomes records or `ignored` reasons: the parser documents that it never raises."""
    _assert_well_formed(parse_whatsapp(body))


@given(json_values)
@example(_ig_timestamp(float("nan")))
@example(_ig_timestamp(float("-inf")))
@example(_ig_timestamp(10**400))
@example(_ig_timestamp(1e20))
def test_parse_instagram_never_raises_on_any_json(body: Any) -> None:
    """Any JSON body becomes records or `ignored` reasons, for Instagram too."""
    _assert_well_formed(parse_instagram(body))


@needs_payloads
@settings(max_examples=3 * settings().max_examples)
@given(st.sampled_from(WHATSAPP_SEEDS or [{}]).flatmap(mutated))
def test_parse_whatsapp_never_raises_on_mutated_real_payloads(body: Any) -> None:
    """Real WhatsApp deliveries with fields replaced, deleted or wrapped still parse without raising."""
    _assert_well_formed(parse_whatsapp(body))


@needs_payloads
@settings(max_examples=3 * settings().max_examples)
@given(st.sampled_from(INSTAGRAM_SEEDS or [{}]).flatmap(mutated))
def test_parse_instagram_never_raises_on_mutated_real_payloads(body: Any) -> None:
    """Real Instagram deliveries with fields replaced, deleted or wrapped still parse without raising."""
    _assert_well_formed(parse_instagram(body))


# --- the raw body, before parsing --------------------------------------------------------------------


APP_SECRET = "app-secret"


class _NoDatabase:
    """Stands in for Postgres: the channel lookup fails, which the intake reports as 503."""

    def transaction(self, tenant: object) -> Any:
        raise ConnectionError("no database in the fuzz suite")


def _intake() -> WebhookIntake:
    nothing = cast(Any, None)
    return WebhookIntake(cast(Any, _NoDatabase()), nothing, nothing, nothing, APP_SECRET, "verify", 60)


raw_bodies = st.one_of(
    st.binary(max_size=256),
    st.builds(lambda v: json.dumps(v).encode(), json_values),
    st.builds(lambda n, opener: opener * n, st.integers(0, 50_000), st.sampled_from([b"[", b'{"a":'])),
)


@st.composite
def deliveries(draw: st.DrawFn) -> tuple[bytes, str | None]:
    """A raw body with no header, a garbage one, `sha256=` + garbage, or its correct signature."""
    raw = draw(raw_bodies)
    header = draw(
        st.one_of(
            st.none(),
            st.text(max_size=80),
            st.builds(lambda tail: PREFIX + tail, st.text(max_size=80)),
            st.just(sign(raw, APP_SECRET)),
        )
    )
    return raw, header


@given(deliveries(), st.sampled_from(["whatsapp", "instagram"]))
@example((b"[" * 100_000, None), "whatsapp")  # found by this suite: RecursionError escaped json.loads (500)
def test_raw_bodies_end_in_an_outcome_or_an_api_error(delivery: tuple[bytes, str | None], platform: Platform) -> None:
    """Bytes off the wire end as an outcome or a 400/401/503 `ApiError`, never as an unhandled 500."""
    raw, header = delivery
    try:
        outcome = asyncio.run(_intake().receive(platform, raw, header, None))
    except ApiError as error:
        assert error.status in (400, 401, 503), error
    else:
        assert header == sign(raw, APP_SECRET), "an unsigned body was accepted"
        assert outcome.published == 0


# --- signature ---------------------------------------------------------------------------------------

SECRETS = st.text(min_size=1, max_size=40)
any_headers = st.one_of(
    st.none(),
    st.text(max_size=100),
    st.builds(lambda tail: PREFIX + tail, st.text(max_size=100)),
    st.builds(lambda tail: PREFIX + tail, st.text(alphabet="0123456789abcdefABCDEF \t", max_size=70)),
    st.builds(lambda n: PREFIX + "a" * n, st.integers(0, 200_000)),
)


@given(st.binary(max_size=2_000), any_headers, SECRETS)
@example(b"{}", PREFIX + "\u00e9" * 64, "app-secret")  # found by this suite: TypeError from compare_digest
@example(b"{}", PREFIX + "\u0130" * 64, "app-secret")  # 'İ'.lower() is two characters, neither ASCII hex
@example(b"", "", "app-secret")
@example(b"x" * 5_000_000, PREFIX + "0" * 64, "app-secret")  # over the 4 MB body limit
def test_signature_check_never_raises_and_accepts_only_the_hmac(raw: bytes, header: str | None, secret: str) -> None:
    """Any header (non-ASCII, huge, empty, `sha256=` + garbage) gets a bool; True only for the body's HMAC."""
    valid = signature_is_valid(raw, header, secret)
    assert isinstance(valid, bool)
    if valid:
        assert header is not None
        # the check tolerates upper-case hex and surrounding whitespace; the digest itself must be exact
        assert PREFIX + header[len(PREFIX) :].strip().lower() == sign(raw, secret)


@given(st.binary(max_size=2_000), SECRETS)
def test_the_exact_signature_verifies(raw: bytes, secret: str) -> None:
    """What Meta sends (`sign` of the exact bytes) is accepted, and not with another secret."""
    header = sign(raw, secret)
    assert signature_is_valid(raw, header, secret) is True
    assert signature_is_valid(raw, header, secret + "x") is False


@given(st.binary(min_size=1, max_size=2_000), SECRETS, st.data())
def test_changing_any_byte_of_the_body_breaks_the_signature(raw: bytes, secret: str, data: Any) -> None:
    """A body edited in transit (one byte flipped, or one byte more or less) never verifies."""
    header = sign(raw, secret)
    index = data.draw(st.integers(0, len(raw) - 1), label="index")
    flip = data.draw(st.integers(1, 255), label="xor")
    changed = [
        raw[:index] + bytes([raw[index] ^ flip]) + raw[index + 1 :],
        raw[:index] + raw[index + 1 :],
        raw[:index] + bytes([flip]) + raw[index:],
    ]
    for body in changed:
        assert signature_is_valid(body, header, secret) is False
