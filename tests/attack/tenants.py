"""Two tenants with real rows and colliding external ids, seeded through the API and the services.

Both tenants have the same name, a customer with the same phone number and a document with the same
file name, so an id or a lookup that forgets the tenant shows up as a row of the other tenant.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
from fastapi import FastAPI

from tests.fixtures.factories import message_received
from tests.fixtures.gateway import PASSWORD, SeededUser, add_user, create_tenant_with_owner, headers_for
from tests.fixtures.knowledge import upload
from wafaa.gateway.config import GatewaySettings
from wafaa.rag.conversations.repository import ConversationRepository, MessageRepository
from wafaa.rag.conversations.service import record_inbound

TENANT_NAME = "Shawarma House"
CUSTOMER = "971500000001"
FILE_NAME = "menu.txt"


@dataclass
class SeededTenant:
    """A tenant's users, the owner's headers, its ids by path parameter name and the secrets it was given."""

    owner: SeededUser
    admin: SeededUser
    agent: SeededUser
    headers: dict[str, str]
    ids: dict[str, list[str]]
    secrets: list[str] = field(default_factory=list)

    @property
    def tenant_id(self) -> uuid.UUID:
        return self.owner.tenant_id


async def seed_tenant(app: FastAPI, client: httpx.AsyncClient, tag: str) -> SeededTenant:
    """Owner, admin and agent; a WhatsApp channel with its token and secrets; a document; a conversation."""
    owner = await create_tenant_with_owner(app, TENANT_NAME)
    admin = await add_user(app, owner.tenant_id, "admin")
    agent = await add_user(app, owner.tenant_id, "agent")
    headers = await headers_for(client, owner)
    secrets = [
        f"EAAG-{tag}-access-token-{uuid.uuid4().hex}",
        f"{tag}-app-secret-{uuid.uuid4().hex}",
        f"{tag}-verify-token-{uuid.uuid4().hex}",
    ]
    channel = await client.post(
        "/api/v1/channels",
        json={
            "platform": "whatsapp",
            "phone_number_id": str(uuid.uuid4().int)[:15],
            "name": "Main line",
            "access_token": secrets[0],
            "app_secret": secrets[1],
            "verify_token": secrets[2],
        },
        headers=headers,
    )
    assert channel.status_code == 201, channel.text
    channel_id = channel.json()["id"]
    document = await upload(client, headers, [(FILE_NAME, f"Hummus 28 AED at {tag}".encode())])
    assert document.status_code == 202, document.text
    conversation_id = await seed_conversation(app, owner.tenant_id, uuid.UUID(channel_id), f"Do you deliver? ({tag})")
    return SeededTenant(
        owner=owner,
        admin=admin,
        agent=agent,
        headers=headers,
        ids={
            "user_id": [str(owner.id), str(admin.id), str(agent.id)],
            "channel_id": [channel_id],
            "document_id": [document.json()[0]["id"]],
            "conversation_id": [str(conversation_id)],
        },
        secrets=secrets,
    )


async def seed_conversation(app: FastAPI, tenant_id: uuid.UUID, channel_id: uuid.UUID, text: str) -> uuid.UUID:
    """A customer's WhatsApp message and the bot's reply, stored by the rag service's own functions."""
    async with app.state.db.transaction(tenant_id) as session:
        await record_inbound(session, message_received(tenant_id, text, customer_id=CUSTOMER, channel_id=channel_id))
        conversation = await ConversationRepository(session, tenant_id).by_customer("whatsapp", CUSTOMER)
        assert conversation is not None
        await MessageRepository(session, tenant_id).add_outbound(
            conversation_id=conversation.id, author="bot", text="Yes, within 5 km."
        )
        return conversation.id


def _snapshot_paths(tenant: SeededTenant) -> list[str]:
    return [
        "/api/v1/audit-logs?limit=200",
        "/api/v1/tenants/me",
        "/api/v1/tenants/me/users",
        "/api/v1/channels",
        "/api/v1/knowledge",
        "/api/v1/conversations",
        *(f"/api/v1/conversations/{c}" for c in tenant.ids["conversation_id"]),
        *(f"/api/v1/knowledge/{d}" for d in tenant.ids["document_id"]),
    ]


async def snapshot(client: httpx.AsyncClient, tenant: SeededTenant) -> dict[str, Any]:
    """What the tenant's owner sees of its own rows."""
    answers = {path: await client.get(path, headers=tenant.headers) for path in _snapshot_paths(tenant)}
    assert all(r.status_code == 200 for r in answers.values()), {p: r.text for p, r in answers.items()}
    return {path: r.json() for path, r in answers.items()}


def server_secrets(settings: GatewaySettings) -> list[str]:
    """The gateway's own secrets, and the seeded users' password: none may ever appear in a response."""
    values = [
        settings.jwt_secret,
        settings.jwt_refresh_secret,
        settings.platform_api_key,
        settings.channel_secrets_key,
        settings.meta_app_secret,
        settings.meta_verify_token,
    ]
    return [v.get_secret_value() for v in values] + [PASSWORD]
