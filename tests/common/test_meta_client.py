"""The Graph API client against the fake Graph API: shapes, retries, and what is never retried."""

from __future__ import annotations

import asyncio
import logging

import pytest

from tests.fixtures.fake_graph import FakeGraphApi
from wafaa.common.meta import SEND_TIMED_OUT, Credentials, GraphClient, GraphError, MetaApiSettings, split_message

WA = Credentials("whatsapp", "106540352242922", "wa-token")
IG = Credentials("instagram", "17841400538867190", "ig-token")


def client_for(fake: FakeGraphApi, **overrides: object) -> GraphClient:
    values: dict[str, object] = {
        "whatsapp_api_base_url": fake.url, "instagram_api_base_url": fake.url, "graph_backoff_initial_seconds": 0.01,
        "graph_backoff_max_seconds": 0.05, "graph_timeout_seconds": 1.0,
    }  # fmt: skip
    settings = MetaApiSettings.model_validate(values | overrides)
    return GraphClient(settings)


async def test_whatsapp_text_reply_shape(fake_graph: FakeGraphApi) -> None:
    client = client_for(fake_graph)
    result = await client.send_text(WA, "16505551234", "We close at 11 pm.", reply_to="wamid.in")
    await client.aclose()
    (call,) = fake_graph.sends()
    assert call.path == "/v23.0/106540352242922/messages"
    assert call.headers["authorization"] == "Bearer wa-token"
    assert call.body == {
        "messaging_product": "whatsapp", "recipient_type": "individual", "to": "16505551234", "type": "text",
        "text": {"preview_url": False, "body": "We close at 11 pm."}, "context": {"message_id": "wamid.in"},
    }  # fmt: skip
    assert result.platform_message_id.startswith("wamid.fake") and result.attempts == 1


async def test_whatsapp_choices_become_reply_buttons(fake_graph: FakeGraphApi) -> None:
    client = client_for(fake_graph)
    await client.send_text(WA, "1", "Which branch?", options=["Jumeirah", "Abu Dhabi"])
    await client.aclose()
    buttons = fake_graph.sends()[0].body["interactive"]["action"]["buttons"]
    assert [b["reply"]["title"] for b in buttons] == ["Jumeirah", "Abu Dhabi"]


async def test_instagram_send_and_typing(fake_graph: FakeGraphApi) -> None:
    client = client_for(fake_graph)
    result = await client.send_text(IG, "igsid-1", "Hello!")
    await client.mark_read(IG, "mid-1", "igsid-1")
    await client.aclose()
    assert fake_graph.sends()[0].body == {"recipient": {"id": "igsid-1"}, "message": {"text": "Hello!"}}
    assert fake_graph.requests[-1].body == {"recipient": {"id": "igsid-1"}, "sender_action": "typing_on"}
    assert result.platform_message_id.startswith("ig.fake")


async def test_two_500s_then_success_is_one_message_after_three_attempts(fake_graph: FakeGraphApi) -> None:
    fake_graph.script(500, 500)
    client = client_for(fake_graph)
    result = await client.send_text(WA, "1", "hi")
    await client.aclose()
    assert result.attempts == 3 and len(fake_graph.sends()) == 3


@pytest.mark.parametrize(
    ("code", "action"), [(131047, "outside_window"), (190, "token_expired"), (131026, "permanent"), (100, "permanent")]
)
async def test_permanent_errors_are_not_retried(fake_graph: FakeGraphApi, code: int, action: str) -> None:
    fake_graph.script(("error", code))
    client = client_for(fake_graph)
    with pytest.raises(GraphError) as caught:
        await client.send_text(WA, "1", "hi")
    await client.aclose()
    assert caught.value.code == code and caught.value.action == action
    assert len(fake_graph.sends()) == 1


@pytest.mark.parametrize("code", [130429, 131056, 4])
async def test_rate_limits_are_retried(fake_graph: FakeGraphApi, code: int) -> None:
    fake_graph.script(("error", code))
    client = client_for(fake_graph)
    result = await client.send_text(WA, "1", "hi")
    await client.aclose()
    assert result.attempts == 2


async def test_a_hanging_api_times_out_after_the_configured_attempts(fake_graph: FakeGraphApi) -> None:
    fake_graph.hang = True
    client = client_for(fake_graph, graph_timeout_seconds=0.2, graph_max_attempts=2)
    with pytest.raises(GraphError) as caught:
        await client.send_text(WA, "1", "hi")
    await client.aclose()
    assert caught.value.retryable and len(fake_graph.sends()) == 2


async def test_an_answer_slower_than_the_timeout_is_sent_again_and_each_timeout_is_logged(
    fake_graph: FakeGraphApi, caplog: pytest.LogCaptureFixture
) -> None:
    fake_graph.delay = 0.5  # the fake accepts each send, but answers after the client has given up
    client = client_for(fake_graph, graph_timeout_seconds=0.2, graph_max_attempts=2)
    with caplog.at_level(logging.WARNING, logger="wafaa.common.meta"), pytest.raises(GraphError):
        await client.send_text(WA, "1", "hi")
    await client.aclose()
    await asyncio.sleep(0.6)  # the fake finishes answering both
    assert [r.getMessage() for r in caplog.records] == [SEND_TIMED_OUT, SEND_TIMED_OUT]
    assert len([r for r in fake_graph.requests if r.answered_at is not None]) == 2  # both were accepted: a duplicate


async def test_token_check(fake_graph: FakeGraphApi) -> None:
    client = client_for(fake_graph)
    assert (await client.check_token(WA))["id"] == WA.account_id
    with pytest.raises(GraphError) as caught:
        await client.check_token(Credentials("whatsapp", "1", "expired"))
    await client.aclose()
    assert caught.value.action == "token_expired"


def test_credentials_never_show_the_token() -> None:
    assert "wa-token" not in repr(WA)


def test_long_replies_split_at_paragraphs_under_each_limit() -> None:
    paragraph = "Our mezze platter serves two and comes with fresh bread. " * 20
    text = "\n\n".join([paragraph.strip()] * 6)
    wa = split_message(text, "whatsapp")
    assert all(len(p) <= 4096 for p in wa) and len(wa) >= 2
    assert "".join(wa).replace("\n", "").replace(" ", "") == text.replace("\n", "").replace(" ", "")
    arabic = "نقدم الفطور يومياً من الساعة الثامنة والنصف صباحاً. " * 60
    ig = split_message(arabic, "instagram")
    assert all(len(p.encode()) <= 1000 for p in ig) and len(ig) >= 3
    assert all(p.endswith(".") for p in ig[:-1])  # cut after sentences, not inside words
    assert split_message("short", "instagram") == ["short"]
    assert all(len(p.encode()) <= 1000 for p in split_message("x" * 5000, "instagram"))
