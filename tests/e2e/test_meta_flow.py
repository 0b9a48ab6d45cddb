"""WhatsApp and Instagram end to end: every sample webhook in, grounded replies out, all five services as processes."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.fixtures.fake_graph import FakeGraphApi
from tests.fixtures.processes import ServiceProcess
from tests.fixtures.waiting import eventually
from wafaa.gateway.config import DEV_META_APP_SECRET, DEV_PLATFORM_API_KEY
from wafaa.gateway.webhooks.signature import sign

pytestmark = [pytest.mark.e2e, pytest.mark.integration, pytest.mark.slow]

PAYLOADS = Path(__file__).resolve().parents[2].parent / "shared" / "reference" / "meta-payloads"
KNOWLEDGE = Path(__file__).resolve().parents[2] / "infra" / "local" / "demo" / "faq.md"
OUTBOUND = ("_send_", "_request", "_response", "_error_", "sender_action")
INBOUND = sorted(p for p in PAYLOADS.glob("*.json") if not any(m in p.name for m in OUTBOUND))
QUESTION = "What time do you open on Sunday?"
WA_NUMBER = str(uuid.uuid4().int)[:15]
IG_ACCOUNT = str(uuid.uuid4().int)[:17]


@pytest.fixture
def stack(start_service, fake_graph: FakeGraphApi, tmp_path: Path) -> ServiceProcess:
    """All five services; the Graph API is the local fake; the local answerer and a fast embedder."""
    common = {
        "uploads_dir": tmp_path / "uploads", "embedding_provider": "hash", "whatsapp_api_base_url": fake_graph.url,
        "instagram_api_base_url": fake_graph.url, "llm_provider": "local", "turn_window_seconds": 0.3,
    }  # fmt: skip
    gateway = start_service("gateway", **common)[0]
    for name in ("ingestion", "rag", "channels", "analytics"):
        start_service(name, **common)
    return gateway


def signed(raw: bytes) -> dict[str, str]:
    return {"X-Hub-Signature-256": sign(raw, DEV_META_APP_SECRET), "Content-Type": "application/json"}


def retarget(body: dict[str, Any], question: str) -> dict[str, Any]:
    """Point a sample payload at our channels, give its items fresh ids, and ask our question in texts."""
    if body.get("object") == "whatsapp_business_account":
        for entry in body["entry"]:
            for change in entry["changes"]:
                value = change["value"]
                value.setdefault("metadata", {})["phone_number_id"] = WA_NUMBER
                for message in value.get("messages", []):
                    message["id"] = f"wamid.{uuid.uuid4().hex}"
                    message["timestamp"] = str(int(time.time()))  # inside the 24-hour reply window
                    if message.get("type") == "text":
                        message["text"]["body"] = question
    else:
        for entry in body["entry"]:
            entry["id"] = IG_ACCOUNT
            items = entry.get("messaging", []) + [c["value"] for c in entry.get("changes", [])]
            for item in items:
                item["timestamp"] = int(time.time() * 1000)
                echo = item.get("message", {}).get("is_echo")
                item.setdefault("recipient" if not echo else "sender", {})["id"] = IG_ACCOUNT
                for key in ("message", "postback", "reaction"):
                    if key in item and "mid" in item[key]:
                        item[key]["mid"] = f"mid.{uuid.uuid4().hex}"
                if "text" in item.get("message", {}):
                    item["message"]["text"] = question
    return body


async def stored(engine: AsyncEngine, platform_message_id: str) -> int:
    async with engine.connect() as conn:
        sql = "SELECT count(*) FROM rag.messages WHERE platform_message_id = :p"
        return int((await conn.execute(text(sql), {"p": platform_message_id})).scalar_one())


async def test_every_sample_webhook_is_stored_and_texts_get_one_grounded_reply(
    stack: ServiceProcess, fake_graph: FakeGraphApi, admin_engine: AsyncEngine
) -> None:
    async with httpx.AsyncClient(base_url=stack.url, timeout=30) as client:
        created = await client.post(
            "/api/v1/platform/tenants", headers={"X-Platform-Key": DEV_PLATFORM_API_KEY},
            json={"name": "Dar Al Yasmin", "owner_email": f"o-{uuid.uuid4().hex[:8]}@example.com",
                  "owner_password": "owner-password-1"},
        )  # fmt: skip
        assert created.status_code == 201, created.text
        login = await client.post(
            "/api/v1/auth/login", json={"email": created.json()["owner"]["email"], "password": "owner-password-1"}
        )
        headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
        for body in (
            {"platform": "whatsapp", "phone_number_id": WA_NUMBER, "access_token": "EAAG-flow-token-0001"},
            {"platform": "instagram", "instagram_account_id": IG_ACCOUNT, "access_token": "IGQ-flow-token-0002"},
        ):
            assert (await client.post("/api/v1/channels", json=body, headers=headers)).status_code == 201
        upload = await client.post(
            "/api/v1/knowledge", files=[("files", ("faq.md", KNOWLEDGE.read_bytes(), "text/markdown"))], headers=headers
        )
        assert upload.status_code == 202, upload.text
        document_id = upload.json()[0]["id"]

        async def status() -> str:
            return str((await client.get(f"/api/v1/knowledge/{document_id}", headers=headers)).json()["status"])

        assert await eventually(status, lambda s: s in ("ready", "failed"), timeout=60) == "ready"

        texts: list[tuple[str, str]] = []  # (platform message id, customer id) of each text sent
        for path in INBOUND:
            body = retarget(json.loads(path.read_text()), QUESTION)
            raw = json.dumps(body).encode()
            platform = "whatsapp" if body["object"] == "whatsapp_business_account" else "instagram"
            response = await client.post(f"/api/v1/webhooks/{platform}", content=raw, headers=signed(raw))
            assert response.status_code == 200, (path.name, response.text)
            if platform == "whatsapp":
                for change in body["entry"][0]["changes"]:
                    for message in change["value"].get("messages", []):
                        assert await eventually(lambda m=message: stored(admin_engine, m["id"]), lambda n: n == 1), (
                            path.name
                        )
                        if message["type"] == "text":
                            texts.append((message["id"], message["from"]))
            else:
                for entry in body["entry"]:
                    for item in entry.get("messaging", []) + [c["value"] for c in entry.get("changes", [])]:
                        message = item.get("message", {})
                        if "text" in message and not message.get("is_echo"):
                            assert await eventually(lambda m=message: stored(admin_engine, m["mid"]), lambda n: n == 1)
                            texts.append((message["mid"], item["sender"]["id"]))
            await asyncio.sleep(0.4)  # let each customer's turn close before the next sample

    def replies(mid: str, customer: str) -> list[str]:
        """Texts sent in reply: WhatsApp quotes the inbound wamid; Instagram is matched by recipient."""
        out = []
        for send in fake_graph.sends():
            body = send.body
            if body.get("messaging_product") == "whatsapp":
                if body.get("context", {}).get("message_id") == mid:
                    out.append(
                        body.get("text", {}).get("body") or body.get("interactive", {}).get("body", {}).get("text", "")
                    )
            elif body.get("recipient", {}).get("id") == customer:
                out.append(body.get("message", {}).get("text", ""))
        return out

    async def replies_now(mid: str, customer: str) -> list[str]:
        return replies(mid, customer)

    assert texts, "no text sample among the fixtures"
    for mid, customer in texts:
        try:
            got = await eventually(lambda m=mid, c=customer: replies_now(m, c), lambda r: len(r) >= 1, timeout=30)
        except AssertionError as exc:
            async with admin_engine.connect() as conn:
                out = (await conn.execute(text("SELECT author, text FROM rag.messages WHERE direction = 'out'"))).all()
                deliveries = (await conn.execute(text("SELECT status, error_code FROM channels.deliveries"))).all()
            raise AssertionError(f"no reply to {mid} {customer}; sends: {fake_graph.sends()}; rag out: {out}; "
                                 f"deliveries: {deliveries}") from exc  # fmt: skip
        assert any("8:00" in r for r in got), got
    await asyncio.sleep(2)  # nothing more arrives later: exactly one reply per text
    for mid, customer in texts:
        assert len(replies(mid, customer)) == 1, replies(mid, customer)
