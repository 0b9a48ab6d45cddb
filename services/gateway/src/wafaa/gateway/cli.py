"""`wafaa`: operator commands.

- `wafaa tenant create --name N --owner-email E --owner-password P`: exit codes 0 created,
  2 invalid input, 3 the owner email is taken.
- `wafaa knowledge reindex (--tenant ID | --all)`: every document of the tenant(s) is queued again
  with the tenant's current chunk settings (after changing EMBEDDING_PROVIDER); prints a JSON summary.

It reads DATABASE_URL and REDIS_URL from the gateway settings and calls the same service functions
as the API (no HTTP).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import uuid
from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError

from wafaa.common.db import Database
from wafaa.common.events import Event
from wafaa.common.messaging import EventPublisher
from wafaa.common.runtime.worker import make_broker
from wafaa.gateway.audit.service import SYSTEM
from wafaa.gateway.auth.passwords import PasswordHasher
from wafaa.gateway.config import GatewaySettings
from wafaa.gateway.errors import ApiError
from wafaa.gateway.knowledge import service as knowledge
from wafaa.gateway.knowledge.repository import knowledge_tenants
from wafaa.gateway.tenants import service
from wafaa.gateway.tenants.schemas import TenantCreate, TenantCreated


async def create_tenant(settings: GatewaySettings, data: TenantCreate) -> TenantCreated:
    """Create a tenant and its first owner, attributed to the system actor."""
    db = Database.from_settings(settings)
    try:
        password_hash = await PasswordHasher(settings.bcrypt_rounds).hash(data.owner_password)
        tenant_id = uuid.uuid4()
        async with db.transaction(tenant_id) as session:
            return await service.create_tenant_with_owner(session, tenant_id, data, password_hash, SYSTEM)
    finally:
        await db.dispose()


async def reindex(settings: GatewaySettings, tenant_id: uuid.UUID | None) -> dict[str, Any]:
    """Queue every document of one tenant (or of every tenant with documents) for indexing again."""
    db = Database.from_settings(settings)
    broker = make_broker(settings)
    try:
        if tenant_id is None:
            async with db.transaction(None) as session:
                tenants = await knowledge_tenants(session)
        else:
            tenants = [tenant_id]
        await broker.connect()
        publisher = EventPublisher(broker, maxlen=settings.stream_maxlen, service="gateway-cli")
        documents = 0
        for tenant in tenants:
            async with db.transaction(tenant) as session:
                events: list[Event[Any]] = await knowledge.reindex_tenant(session, tenant)
            # Published once the new generation is committed, so no status event can arrive first.
            await publisher.publish_many(events)
            documents += len(events)
        return {"tenants": len(tenants), "documents": documents}
    finally:
        await broker.stop()
        await db.dispose()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="wafaa", description="Wafaa AI Concierge operator commands.")
    groups = parser.add_subparsers(dest="group", required=True)
    tenant = groups.add_parser("tenant", help="manage tenants").add_subparsers(dest="command", required=True)
    create = tenant.add_parser("create", help="create a tenant and its first owner; prints them as JSON")
    create.add_argument("--name", required=True)
    create.add_argument("--owner-email", required=True)
    create.add_argument("--owner-password", required=True)
    kb = groups.add_parser("knowledge", help="manage knowledge bases").add_subparsers(dest="command", required=True)
    reindex_cmd = kb.add_parser("reindex", help="index every document again (after changing EMBEDDING_PROVIDER)")
    which = reindex_cmd.add_mutually_exclusive_group(required=True)
    which.add_argument("--tenant", type=uuid.UUID, help="one tenant's id")
    which.add_argument("--all", action="store_true", help="every tenant that has documents")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point."""
    args = _parser().parse_args(argv)
    if args.group == "knowledge":
        summary = asyncio.run(reindex(GatewaySettings(), None if args.all else args.tenant))
        print(json.dumps(summary))  # noqa: T201
        return 0
    try:
        data = TenantCreate(name=args.name, owner_email=args.owner_email, owner_password=args.owner_password)
    except ValidationError as exc:
        for error in exc.errors():
            print(f"wafaa: {'.'.join(map(str, error['loc']))}: {error['msg']}", file=sys.stderr)  # noqa: T201
        return 2
    try:
        created = asyncio.run(create_tenant(GatewaySettings(), data))
    except ApiError as exc:
        print(f"wafaa: {exc.code}: {exc.message}", file=sys.stderr)  # noqa: T201
        return 3 if exc.code == "email_taken" else 1
    print(json.dumps(created.model_dump(mode="json"), indent=2, ensure_ascii=False))  # noqa: T201
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
