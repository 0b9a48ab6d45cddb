"""`wafaa`: operator commands. `wafaa tenant create --name N --owner-email E --owner-password P`.

It reads DATABASE_URL from the gateway settings and calls the same service functions as the
platform API (no HTTP). Exit codes: 0 created, 2 invalid input, 3 the owner email is taken.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import uuid
from collections.abc import Sequence

from pydantic import ValidationError

from wafaa.common.db import Database
from wafaa.gateway.audit.service import SYSTEM
from wafaa.gateway.auth.passwords import PasswordHasher
from wafaa.gateway.config import GatewaySettings
from wafaa.gateway.errors import ApiError
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


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="wafaa", description="Wafaa AI Concierge operator commands.")
    groups = parser.add_subparsers(dest="group", required=True)
    tenant = groups.add_parser("tenant", help="manage tenants").add_subparsers(dest="command", required=True)
    create = tenant.add_parser("create", help="create a tenant and its first owner; prints them as JSON")
    create.add_argument("--name", required=True)
    create.add_argument("--owner-email", required=True)
    create.add_argument("--owner-password", required=True)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point."""
    args = _parser().parse_args(argv)
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
