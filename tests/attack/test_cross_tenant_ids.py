"""Every route with an id in its path, called by tenant A with tenant B's real ids, answers like a missing id.

The routes come from the OpenAPI document, so a new `{..._id}` route is probed without anyone adding
it here, and the test fails when it has no kind of B id to probe it with. For each route and each of
B's ids, generated valid queries and bodies are sent twice, with B's id and with a random one: both
must get the same status and body, and at least one must be the 404. B's rows, audit trail and
events stay as they were, and B's channel token is never sent to the Graph API.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis
from schemathesis import Case, GenerationMode

from tests.attack.driver import Sender, attack_client, load_schema, run_cases
from tests.attack.tenants import seed_tenant, snapshot
from tests.fixtures.fake_graph import FakeGraphApi
from tests.fixtures.gateway import gateway_settings, running_gateway
from tests.fixtures.infrastructure import Infrastructure

pytestmark = [pytest.mark.attack, pytest.mark.integration]

EXAMPLES = 5


def is_id(parameter: Any) -> bool:
    """A path parameter naming a row: `..._id`, `id`, or a UUID."""
    schema = parameter.definition.get("schema", {})
    return parameter.name == "id" or parameter.name.endswith("_id") or schema.get("format") == "uuid"


async def stream_positions(redis: Redis) -> dict[bytes, bytes]:
    """The last entry id of every stream."""
    positions = {}
    async for key in redis.scan_iter(_type="STREAM"):
        last = await redis.xrevrange(key, count=1)
        positions[key] = last[0][0] if last else b"0-0"
    return positions


async def entries_since(redis: Redis, positions: dict[bytes, bytes]) -> list[Any]:
    """Every stream entry added after `positions` (streams created since included)."""
    entries: list[Any] = []
    async for key in redis.scan_iter(_type="STREAM"):
        start = b"(" + positions[key] if key in positions else b"-"
        entries.extend(await redis.xrange(key, min=start))
    return entries


async def test_tenant_bs_ids_answer_404_to_tenant_a_like_missing_ids(
    infra: Infrastructure, redis: Redis, fake_graph: FakeGraphApi, tmp_path: Path
) -> None:
    settings = gateway_settings(
        infra, uploads_dir=tmp_path, whatsapp_api_base_url=fake_graph.url, instagram_api_base_url=fake_graph.url
    )
    async with running_gateway(settings) as (app, client):
        a = await seed_tenant(app, client, "tenant-a")
        b = await seed_tenant(app, client, "tenant-b")
        b_before = await snapshot(client, b)
        positions = await stream_positions(redis)
        schema = load_schema((await client.get("/openapi.json")).json())
        attacker = attack_client(app, "203.0.113.7")
        sender = Sender(attacker, asyncio.get_running_loop())

        probes = []
        for result in schema.get_all_operations():
            operation = result.ok()
            for parameter in filter(is_id, operation.path_parameters):
                ids = b.ids.get(parameter.name)
                assert ids, f"{operation.label}: no id of tenant B for `{parameter.name}`; add one to seed_tenant"
                probes.extend((operation, parameter.name, value) for value in ids)
        assert len({p[0].label for p in probes}) >= 13, "fewer routes with ids than the gateway has"

        not_found: Counter[tuple[str, str]] = Counter()
        for operation, name, b_id in probes:

            def probe(case: Case, operation: Any = operation, name: str = name, b_id: str = b_id) -> None:
                other = sender.send(case, a.headers)
                case.path_parameters = {**case.path_parameters, name: str(uuid.uuid4())}
                missing = sender.send(case, a.headers)
                assert (other.status_code, other.json()) == (missing.status_code, missing.json()), (
                    operation.label,
                    b_id,
                )
                not_found[(operation.label, b_id)] += other.status_code == 404

            strategy = operation.as_strategy(
                generation_mode=GenerationMode.POSITIVE, headers=a.headers, path_parameters={name: b_id}
            )
            await asyncio.to_thread(run_cases, strategy, EXAMPLES, probe)
        await attacker.aclose()

        never_404 = [f"{label} with {b_id}" for (label, b_id), count in not_found.items() if count == 0]
        assert never_404 == []
        assert len(not_found) == len(probes)
        assert await snapshot(client, b) == b_before
        assert [e for e in await entries_since(redis, positions) if str(b.tenant_id).encode() in repr(e).encode()] == []
        assert fake_graph.requests == []
