"""Every fault of the delivery checklist, injected while a steady stream of webhooks flows.

All five services run as processes on the embedded Postgres and Redis (AOF on, see
`EmbeddedRedis.command`), the Graph API is the local fake. Three tenants each have a WhatsApp
number; every webhook comes from its own customer, so each text expects exactly one reply. While
~8 webhooks/s arrive (every fifth delivered twice, every non-200 retried until it is a 200, as Meta
does), the test in turn: kills -9 one process of each worker type and starts a new one; SIGTERMs
one of each and starts a new one; restarts Redis; terminates the services' Postgres connections;
restarts Postgres; makes the Graph API answer 500s, then 429s (code 130429), then hang past the
client timeout, a few seconds each; publishes one invalid event on every consumed stream. No process
is restarted after the SIGTERM round: the services must ride out Redis, Postgres and Graph faults
by themselves.

Once the stream stops and the system is quiet it checks: every unique inbound message is stored
once (rag.messages) and seen once by analytics; every text has exactly one reply accepted by the fake
Graph API; no entry is pending or unread in any group of any stream; each `<stream>.dlq` holds
exactly the invalid event, once per group reading that stream; every process answers /ready.

The only window for a duplicate reply is the channel sender's (ReplySender docstring): between the
platform accepting a part and the commit of that part's id in channels.delivery_parts. A fault that
lands exactly there (the sender killed, its database connection or Redis failing on the sent-marker
write, which sits between the two) leaves the part unrecorded and the redelivered ReplyReady sends it
again. A send whose answer comes after the client's timeout is the same window: the client tries it
again, and the first may have been accepted. The fake never accepts a request it hangs on, but on a
loaded 2-CPU machine it can accept one whose answer the sender then reads too late (seen: three
replies sent twice 25 ms apart, with no fault active). The sender logs each such timeout
(`SEND_TIMED_OUT`). The assertion is exact otherwise: a text with two accepted replies is allowed only
when one of the two was never recorded (an "orphan") and the platform accepted that orphan during a
fault that can hit the window: from 2 s before a kill -9 of a channels process until it exited, during a
Postgres or Redis fault (+5 s for the pool to notice), or within the client timeout (+1 s) before a
channels process logged a timed-out send. Anything else (a third send, two recorded sends, an orphan outside
those moments) fails the test.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import signal
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from faststream.redis import RedisBroker
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.e2e.test_channel_sender import CUSTOMER, connect, customer_wrote
from tests.fixtures.factories import reply_ready
from tests.fixtures.fake_graph import FakeGraphApi, Recorded
from tests.fixtures.faults import Fault, Timeline, WebhookLoad, backlog, dead_letters, quiet, terminate_connections
from tests.fixtures.infrastructure import APP_USER, Infrastructure
from tests.fixtures.processes import ServiceProcess
from tests.fixtures.system import WORKERS, Stack, dump_stacks, onboard, stack_env
from tests.fixtures.waiting import eventually
from wafaa.common.messaging import CONSUMER_GROUPS, EventPublisher
from wafaa.common.meta import SEND_TIMED_OUT

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.integration,
    pytest.mark.slow,
    pytest.mark.faults,
    pytest.mark.timeout(600),
]

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "faults"
TENANTS = 3
RATE = 8.0  # webhooks per second (2 CPUs, shared with other work)
OUTAGE_SECONDS = 3.0


async def graph_outage(fake: FakeGraphApi, timeline: Timeline, kind: str) -> None:
    """The fake answers every send with a 500, a 429 (code 130429), or not at all, for a few seconds."""
    fault = timeline.begin(kind, "graph")
    if kind == "graph_hang":
        fake.hang = True
    else:
        fake.outage = 500 if kind == "graph_500" else ("error", 130429)
    await asyncio.sleep(OUTAGE_SECONDS)
    fake.hang, fake.outage = False, None
    timeline.end(fault)


async def publish_poison(infra: Infrastructure, tenant: uuid.UUID, timeline: Timeline) -> dict[str, str]:
    """One invalid event (its payload is not an object) on every consumed stream; event ids by stream."""
    fault = timeline.begin("poison", "all")
    broker = RedisBroker(infra.redis_url)
    await broker.connect()
    ids = {}
    try:
        for stream in CONSUMER_GROUPS:
            event_id = str(uuid.uuid4())
            body = {"event_id": event_id, "tenant_id": str(tenant), "type": "poison", "payload": "not an object"}
            await broker.publish(body, stream=stream, headers={"x-tenant-id": str(tenant)})
            ids[stream] = event_id
    finally:
        await broker.stop()
    timeline.end(fault, f"{len(ids)} streams")
    return ids


async def inject_faults(
    stack: Stack,
    timeline: Timeline,
    infra: Infrastructure,
    engines: list[AsyncEngine],
    fake: FakeGraphApi,
    tenant: uuid.UUID,
) -> tuple[dict[str, str], dict[str, list[int]]]:
    """The fault sequence, with short pauses; the poison event ids and the pids after the last restart."""
    assert infra.redis is not None and infra.postgres is not None
    admin_engine = engines[0]
    await asyncio.sleep(3)  # some traffic before the first fault
    for how in ("kill9", "sigterm"):
        for name in WORKERS:
            await stack.replace(name, how, timeline)
            await asyncio.sleep(1.5)
    await stack.settle()
    pids = {name: sorted(p.pid for p in procs) for name, procs in stack.live.items()}

    fault = timeline.begin("redis_restart", "redis")
    await asyncio.to_thread(infra.redis.restart)
    timeline.end(fault)
    await asyncio.sleep(2)

    fault = timeline.begin("pg_terminate", "postgres")
    terminated = await terminate_connections(admin_engine, APP_USER)
    timeline.end(fault, f"{terminated} backends")
    await asyncio.sleep(2)

    fault = timeline.begin("pg_restart", "postgres")
    await asyncio.to_thread(infra.postgres.stop, "fast")
    await asyncio.to_thread(infra.postgres.start)
    for engine in engines:  # the session's engines hold connections to the old server
        await engine.dispose()
    timeline.end(fault)
    await asyncio.sleep(2)

    for kind in ("graph_500", "graph_429", "graph_hang"):
        await graph_outage(fake, timeline, kind)
        await asyncio.sleep(2)

    poison = await publish_poison(infra, tenant, timeline)
    await asyncio.sleep(2)
    return poison, pids


async def scalar_rows(engine: AsyncEngine, sql: str, **params: Any) -> list[Any]:
    async with engine.connect() as conn:
        return list((await conn.execute(text(sql), params)).all())


def reply_id(send: Recorded) -> str:
    """The platform id the fake gave an accepted send."""
    return str((send.answer.get("messages") or [{}])[0].get("id", ""))


async def answers_ready(proc: ServiceProcess, timeout: float = 20.0) -> int | str:
    """The process's /ready status, polled for a while: right after a database restart an idle service's
    first probe may meet a pooled connection the restart broke (no pre-ping, by design) and answer 503 once."""
    deadline = time.monotonic() + timeout
    status: int | str = "no answer"
    async with httpx.AsyncClient(timeout=5) as client:
        while time.monotonic() < deadline:
            try:
                status = (await client.get(f"{proc.url}/ready")).status_code
            except httpx.HTTPError as exc:
                status = repr(exc)
            if status == 200:
                break
            await asyncio.sleep(0.5)
    return status


def window_faults(timeline: Timeline) -> list[tuple[float, float, Fault]]:
    """Moments when a fault could hit the sender between the platform's acceptance and the commit."""
    # a kill -9 takes effect when the process is gone (`ended`: it was awaited), not when it was sent; the
    # fake can still answer a send the victim made just before (seen: 1.4 ms after `started`)
    windows = [(f.started - 2.0, f.ended, f) for f in timeline.of("kill9", target="channels")]
    windows += [(f.started - 1.0, f.ended + 5.0, f) for f in timeline.of("redis_restart", "pg_terminate", "pg_restart")]
    return windows


def timed_out_sends(log_dir: Path) -> list[float]:
    """When the channels processes (every one this test started, replaced ones too) logged a timed-out send."""
    moments = []
    for path in log_dir.glob("channels-*.log"):
        for line in path.read_text(errors="replace").splitlines():
            if SEND_TIMED_OUT in line:
                with contextlib.suppress(ValueError, KeyError, TypeError):
                    moments.append(datetime.fromisoformat(json.loads(line)["ts"]).timestamp())
    return sorted(moments)


@pytest.mark.parametrize(
    "replicas",
    [1, 3],
    ids=["one_replica_each", "rag_and_channels_x3"],
)
async def test_under_every_fault_each_message_is_stored_once_and_answered_once(
    replicas: int,
    start_service: Callable[..., list[ServiceProcess]],
    fake_graph: FakeGraphApi,
    infra: Infrastructure,
    redis: Redis,
    admin_engine: AsyncEngine,
    app_engine: AsyncEngine,
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> None:
    if infra.redis is None or infra.postgres is None:
        pytest.skip(f"restarting Redis and Postgres needs the embedded servers (running on {infra.kind})")
    started_at = time.monotonic()
    stack = Stack(start_service, stack_env(fake_graph, tmp_path / "uploads"), ARTIFACTS / request.node.name)
    shutil.rmtree(stack.artifacts, ignore_errors=True)  # stack dumps of an earlier run
    gateway = (await stack.launch("gateway"))[0]
    await asyncio.gather(*(stack.launch(name, replicas if name in ("rag", "channels") else 1) for name in WORKERS))
    timeline = Timeline()
    async with httpx.AsyncClient(base_url=gateway.url, timeout=30) as client:
        tenants = [await onboard(client, i) for i in range(TENANTS)]
        load = WebhookLoad(client, [(t.id, t.number) for t in tenants], rate=RATE)
        stop = asyncio.Event()
        sending = asyncio.create_task(load.run(stop))
        try:
            poison, pids_after_restarts = await inject_faults(
                stack, timeline, infra, [admin_engine, app_engine], fake_graph, tenants[0].id
            )
        finally:
            stop.set()
            await asyncio.wait_for(sending, 120)
        load_done_at = time.monotonic()

        checks = Redis.from_url(infra.redis_url)
        tenant_ids = [t.id for t in tenants]
        expected_dead = {
            stream: sorted((group, poison[stream]) for group in groups) for stream, groups in CONSUMER_GROUPS.items()
        }

        def accepted_by_inbound() -> dict[str, list[Recorded]]:
            numbers = {t.number for t in tenants}
            out: dict[str, list[Recorded]] = defaultdict(list)
            for send in fake_graph.accepted_sends():
                if send.path.split("/")[2] in numbers:
                    out[str(send.body.get("context", {}).get("message_id"))].append(send)
            return out

        async def state() -> dict[str, Any]:
            stored = await scalar_rows(
                admin_engine,
                "SELECT platform_message_id FROM rag.messages WHERE tenant_id = ANY(:t) AND direction = 'in'",
                t=tenant_ids,
            )
            replies = accepted_by_inbound()
            dead = await dead_letters(checks)
            return {
                "not_stored": sorted(set(load.sent) - {r[0] for r in stored})[:10],
                "stored": len(stored),
                "unanswered": sorted(m for m in load.sent if not replies.get(m))[:10],
                "backlog": {k: v for k, v in (await backlog(checks)).items() if any(v.values())},
                "dead": {s: sorted((g, e) for g, e, _, _ in rows) for s, rows in dead.items()},
            }

        def settled(s: dict[str, Any]) -> bool:
            return (
                not s["not_stored"]
                and not s["unanswered"]
                and quiet(s["backlog"])
                and all(len(s["dead"].get(k, [])) >= len(v) for k, v in expected_dead.items())
            )

        deadline = time.monotonic() + 180
        last = await state()
        while not settled(last) and time.monotonic() < deadline:
            await asyncio.sleep(0.5)
            last = await state()
        if not settled(last):  # evidence for the report: who holds what in Postgres, each process's stacks
            async with admin_engine.connect() as conn:
                activity = await conn.execute(
                    text(
                        "SELECT pid, usename, application_name, state, wait_event_type, wait_event,"
                        " now() - xact_start AS in_transaction, left(query, 300) AS query"
                        " FROM pg_stat_activity WHERE backend_type = 'client backend' ORDER BY xact_start"
                    )
                )
                rows = [dict(r._mapping) for r in activity]
            stack.artifacts.mkdir(parents=True, exist_ok=True)
            (stack.artifacts / "pg_stat_activity.json").write_text(json.dumps(rows, indent=1, default=str))
            for proc in stack.processes():
                dump_stacks(proc, stack.artifacts / f"{proc.name}-{proc.pid}-not-settled.txt")
        await asyncio.sleep(2)  # anything sent late (a second reply) arrives now
        quiet_at = time.monotonic()
        last = await state()

        # ---- gather the outcome ---------------------------------------------------------------
        stored_counts = dict(
            await scalar_rows(
                admin_engine,
                "SELECT platform_message_id, count(*) FROM rag.messages "
                "WHERE tenant_id = ANY(:t) AND direction = 'in' GROUP BY 1",
                t=tenant_ids,
            )
        )
        insight_counts = dict(
            await scalar_rows(
                admin_engine,
                "SELECT message_ref, count(*) FROM analytics.message_insights "
                "WHERE tenant_id = ANY(:t) AND direction = 'in' GROUP BY 1",
                t=tenant_ids,
            )
        )
        bot_replies = dict(
            await scalar_rows(
                admin_engine,
                "SELECT c.customer_id, count(m.id) FROM rag.conversations c LEFT JOIN rag.messages m "
                "ON m.conversation_id = c.id AND m.direction = 'out' WHERE c.tenant_id = ANY(:t) GROUP BY 1",
                t=tenant_ids,
            )
        )
        recorded = {
            r[0]
            for r in await scalar_rows(
                admin_engine,
                "SELECT platform_message_id FROM channels.delivery_parts WHERE tenant_id = ANY(:t)",
                t=tenant_ids,
            )
        }
        delivery_statuses = dict(
            await scalar_rows(
                admin_engine,
                "SELECT status, count(*) FROM channels.deliveries WHERE tenant_id = ANY(:t) GROUP BY 1",
                t=tenant_ids,
            )
        )
        replies = accepted_by_inbound()
        windows = [(lo, hi) for lo, hi, _ in window_faults(timeline)]
        timeout = float(stack.env["graph_timeout_seconds"])
        timeouts = timed_out_sends(ROOT / "test-artifacts" / "logs" / request.node.name)
        windows += [(t - timeout - 1.0, t + 1.0) for t in timeouts]
        duplicates: dict[str, list[dict[str, Any]]] = {}
        unexplained: dict[str, list[dict[str, Any]]] = {}
        for wamid, sends in replies.items():
            if len(sends) < 2:
                continue
            described = [
                {"id": reply_id(s), "recorded": reply_id(s) in recorded, "answered_at": s.answered_at} for s in sends
            ]
            duplicates[wamid] = described
            orphans = [s for s in sends if reply_id(s) not in recorded]
            explained = (
                len(sends) == 2
                and len(orphans) == 1
                and any(lo <= (orphans[0].answered_at or 0) <= hi for lo, hi in windows)
            )
            if not explained:
                unexplained[wamid] = described
        dead = await dead_letters(checks)
        final_backlog = await backlog(checks)
        ready = {f"{p.name}:{p.pid}": await answers_ready(p) for p in [gateway, *stack.processes()]}
        documents = [
            (await client.get(f"/api/v1/knowledge/{t.document}", headers=t.headers)).json().get("status")
            for t in tenants
        ]
        work = {
            name: [
                p.metric("wafaa_events_handled_total", service=name, stream=stream, outcome="processed")
                for p in stack.live[name]
            ]
            for name, stream in (("rag", "wafaa.message.received"), ("channels", "wafaa.reply.ready"))
        }
        await checks.aclose()

    summary = {
        "replicas": replicas,
        "seconds": {
            "total": round(quiet_at - started_at, 1),
            "quiet_after_load": round(quiet_at - load_done_at, 1),
        },
        "webhooks": {
            "unique": len(load.sent),
            "duplicates_sent": load.duplicates_sent,
            "accepted": load.accepted,
            "answered_duplicate": load.duplicates_answered,
            "non_200_answers": dict(load.statuses),
            "transport_errors": load.transport_errors,
        },
        "timeline": [vars(f) for f in timeline.faults],
        "sigterm_exit_codes": stack.sigterm_exits,
        "accepted_sends": sum(len(s) for s in replies.values()),
        "timed_out_sends": timeouts,
        "duplicates": duplicates,
        "unexplained_duplicates": unexplained,
        "deliveries": delivery_statuses,
        "dead_letters": dead,
        "ready": ready,
        "documents": documents,
        "work_per_replica": work,
        "last_state": last,
    }
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / f"{request.node.name}.json").write_text(json.dumps(summary, indent=2, default=str))
    context = f"\nfaults:\n{timeline.describe()}\nsummary in {ARTIFACTS / (request.node.name + '.json')}"

    # ---- every unique inbound message stored once, seen once by analytics --------------------
    assert len(load.sent) >= 300, f"too little traffic to mean anything: {len(load.sent)}"
    assert set(load.statuses) <= {503}, f"the gateway answered something other than 200/503: {load.statuses}"
    # an answer slower than the client's 30 s (load.transport_errors) is retried as Meta does; not a failure
    not_stored = {m: stored_counts.get(m, 0) for m in load.sent if stored_counts.get(m, 0) != 1}
    assert not not_stored, (
        f"{len(not_stored)} messages not stored exactly once: {list(not_stored.items())[:10]}{context}"
    )
    assert set(stored_counts) == set(load.sent)
    not_seen = [m for m in load.sent if insight_counts.get(m) != 1]
    assert not not_seen, f"analytics missed {len(not_seen)}: {not_seen[:10]}{context}"

    # ---- streams drained, dead letters exactly the poison ------------------------------------
    assert quiet(final_backlog), f"entries left pending or unread: {final_backlog}{context}"
    got_dead = {s: sorted({(g, e) for g, e, _, _ in rows}) for s, rows in dead.items()}
    assert got_dead == expected_dead, f"dead letters differ from the poison events: {dead}{context}"
    assert all(reason.startswith("invalid event") for rows in dead.values() for *_, reason in rows), dead
    # the same entry dead-lettered twice by one group: it was handled twice at once (asserted below)
    same_entry_twice = {s: rows for s, rows in dead.items() if len(rows) != len({(g, e) for g, e, _, _ in rows})}

    # ---- the services recovered by themselves ------------------------------------------------
    assert all(code == 200 for code in ready.values()), f"not ready at the end: {ready}{context}"
    assert {n: sorted(p.pid for p in procs) for n, procs in stack.live.items()} == pids_after_restarts
    assert all(p.proc is not None and p.proc.poll() is None for p in stack.processes())
    # stopped by SIGTERM itself: not killed after 60 s, nor ended by the shutdown watchdog (exit 70)
    not_graceful = {n: code for n, code in stack.sigterm_exits.items() if code not in (0, -signal.SIGTERM)}
    assert not not_graceful, f"SIGTERM did not stop {not_graceful} gracefully; logs and stacks in {stack.artifacts}"
    assert documents == ["ready"] * TENANTS, documents

    # ---- one reply per text: rag wrote one, channels delivered it ----------------------------
    unanswered = [m for m in load.sent if not replies.get(m)]
    assert not unanswered, f"{len(unanswered)} texts never got a reply: {unanswered[:10]}{context}"
    assert set(replies) == set(load.sent), f"replies to messages we never sent: {set(replies) - set(load.sent)}"
    customers = {m.customer for m in load.sent.values()}
    assert {c: n for c, n in bot_replies.items() if c in customers and n != 1} == {}, "rag wrote not one reply"
    assert delivery_statuses == {"sent": len(load.sent)}, delivery_statuses

    # ---- with replicas, every replica took part ----------------------------------------------
    if replicas > 1:
        assert all(n > 0 for counts in work.values() for n in counts), f"a replica did no work: {work}"

    # ---- no second reply outside the sender's window, no entry handled twice at once -----------
    assert not unexplained, (
        f"{len(unexplained)} texts got a second reply outside the sender's window (see"
        f" {test_a_batch_slower_than_the_reclaim_idle_time_sends_each_reply_once.__name__}): {unexplained}{context}"
    )
    assert not same_entry_twice, f"dead-letter streams hold one entry twice: {same_entry_twice}{context}"


async def test_a_batch_slower_than_the_reclaim_idle_time_sends_each_reply_once(
    start_service: Callable[..., list[ServiceProcess]],
    fake_graph: FakeGraphApi,
    infra: Infrastructure,
    publisher: EventPublisher,
    admin_engine: AsyncEngine,
) -> None:
    """No fault at all: the platform takes 0.4 s per send and ten replies arrive in one batch, so the batch
    takes ~4 s, longer than the reclaim idle time (1 s here; 30 s by default against batches of 64)."""
    (sender,) = start_service(
        "channels", whatsapp_api_base_url=fake_graph.url, reclaim_idle_ms=1000, reclaim_poll_interval_ms=200
    )
    tenant, channel = await connect(infra, fake_graph)
    await customer_wrote(publisher, admin_engine, tenant, channel)
    fake_graph.delay = 0.4
    for i in range(10):
        await publisher.publish(
            reply_ready(tenant, channel_id=channel, recipient_id=CUSTOMER, in_reply_to_platform_message_id=f"w.{i}")
        )

    async def answered() -> set[str]:
        return {s.body["context"]["message_id"] for s in fake_graph.accepted_sends()}

    await eventually(answered, lambda a: len(a) == 10, timeout=90)
    await asyncio.sleep(3)  # a second handling of the same entry sends now
    per_reply = Counter(s.body["context"]["message_id"] for s in fake_graph.accepted_sends())
    handled = sender.metric("wafaa_events_handled_total", stream="wafaa.reply.ready", outcome="processed")
    assert per_reply == dict.fromkeys(per_reply, 1), f"replies sent twice: {per_reply}; entries handled: {handled}"
