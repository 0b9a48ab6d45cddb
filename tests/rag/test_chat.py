"""The dashboard chat through the gateway, answered by the rag service over the broker."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from redis.asyncio import Redis

from tests.fixtures.fake_pinecone import API_KEY, FakePinecone
from tests.fixtures.gateway import create_tenant_with_owner, gateway_settings, headers_for, running_gateway
from tests.fixtures.infrastructure import Infrastructure
from tests.fixtures.rag import index_documents
from tests.fixtures.waiting import eventually
from wafaa.common.messaging import EventPublisher

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

FAQ = b"""Opening hours
Q: When do you open on weekends?
A: On Friday to Sunday we open at 08:30 and close at 01:00.
Q: Do you deliver to Sharjah?
A: No, we do not deliver to Sharjah or Ajman.
"""


async def test_chat_answers_from_chunks_whose_vectors_live_in_the_tenants_pinecone_namespace(
    infra: Infrastructure,
    start_service,
    publisher: EventPublisher,
    redis: Redis,
    tmp_path: Path,
    fake_pinecone: FakePinecone,
) -> None:
    uploads = tmp_path / "uploads"
    uploads.mkdir()
    pinecone = {
        "vector_db_provider": "pinecone",
        "pinecone_index_host": fake_pinecone.host,
        "pinecone_api_key": API_KEY,
    }
    start_service("ingestion", uploads_dir=uploads, embedding_provider="hash", **pinecone)
    start_service("rag", embedding_provider="hash", llm_provider="local", **pinecone)
    async with running_gateway(gateway_settings(infra, chat_timeout_seconds=15)) as (app, client):
        owner = await create_tenant_with_owner(app)
        await index_documents(publisher, redis, uploads, owner.tenant_id, {"faq.txt": FAQ})
        headers = await headers_for(client, owner)
        answer = await client.post("/api/v1/chat", json={"message": "when do you open on weekends?"}, headers=headers)
        assert answer.status_code == 200, answer.text
        assert "08:30" in answer.json()["reply"] and answer.json()["sources"][0]["title"] == "faq.txt"
    queries = fake_pinecone.calls("/query")
    assert queries and all(q.body["namespace"] == str(owner.tenant_id) for q in queries)


async def test_chat_answers_with_sources_streams_tokens_and_lists_the_conversation(
    infra: Infrastructure, start_service, publisher: EventPublisher, redis: Redis, tmp_path: Path
) -> None:
    uploads = tmp_path / "uploads"
    uploads.mkdir()
    start_service("ingestion", uploads_dir=uploads, embedding_provider="hash")
    start_service("rag", embedding_provider="hash", llm_provider="local")
    async with running_gateway(gateway_settings(infra, chat_timeout_seconds=15)) as (app, client):
        owner = await create_tenant_with_owner(app)
        await index_documents(publisher, redis, uploads, owner.tenant_id, {"faq.txt": FAQ})
        headers = await headers_for(client, owner)

        first = await client.post(
            "/api/v1/chat", json={"message": "what time do you open on saturday?"}, headers=headers
        )
        assert first.status_code == 200, first.text
        body = first.json()
        assert "08:30" in body["reply"] and body["handoff"] is False
        assert body["sources"] and body["sources"][0]["title"] == "faq.txt"
        conversation_id = body["conversation_id"]

        follow = await client.post(
            "/api/v1/chat",
            json={"message": "and sharjah delivery?", "conversation_id": conversation_id},
            headers=headers,
        )
        assert follow.json()["conversation_id"] == conversation_id and "Sharjah" in follow.json()["reply"]

        async with client.stream(
            "POST", "/api/v1/chat/stream", json={"message": "when do you open on weekends?"}, headers=headers
        ) as stream:
            events = []
            async for line in stream.aiter_lines():
                if line.startswith("event: "):
                    events.append(line[7:])
                elif line.startswith("data: ") and events[-1] == "reply":
                    final = json.loads(line[6:])
        assert events.count("token") >= 2 and events[-1] == "reply"
        assert "08:30" in final["reply"]

        listing = await client.get("/api/v1/conversations", params={"channel": "web", "limit": 1}, headers=headers)
        assert listing.status_code == 200 and len(listing.json()["items"]) == 1 and listing.json()["next_cursor"]
        found = await client.get("/api/v1/conversations", params={"q": "AND SHARJAH delivery"}, headers=headers)
        assert [c["id"] for c in found.json()["items"]] == [conversation_id]
        detail = (await client.get(f"/api/v1/conversations/{conversation_id}", headers=headers)).json()
        assert [(m["direction"], m["author"]) for m in detail["messages"]] == [
            ("in", "customer"),
            ("out", "bot"),
            ("in", "customer"),
            ("out", "bot"),
        ]
        assert detail["messages"][1]["sources"]

        agent = await client.post(
            f"/api/v1/conversations/{conversation_id}/messages", json={"text": "Hi, Sara here."}, headers=headers
        )
        assert agent.status_code == 202
        detail = await eventually(
            lambda: client.get(f"/api/v1/conversations/{conversation_id}", headers=headers),
            lambda r: r.json()["status"] == "handoff",
        )
        assert detail.json()["messages"][-1]["author"] == "human"
        other = await client.get(f"/api/v1/conversations/{uuid.uuid4()}", headers=headers)
        assert other.status_code == 404


async def test_chat_without_a_rag_service_answers_504_with_a_clear_code(infra: Infrastructure, redis: Redis) -> None:
    async with running_gateway(gateway_settings(infra, chat_timeout_seconds=0.5)) as (app, client):
        owner = await create_tenant_with_owner(app)
        response = await client.post(
            "/api/v1/chat", json={"message": "hello"}, headers=await headers_for(client, owner)
        )
        assert response.status_code == 504 and response.json()["code"] == "chat_timeout"
