"""Analytics benchmark: the consumer's events/s, and the `/api/v1/analytics` endpoints' latency at scale.

Everything runs on embedded Postgres + Redis with the migrations applied, and one gateway process
(`python -m wafaa.gateway`) with a tenant and its owner logged in (`bench.http_stack.gateway`).

Consumer: the analytics service runs as a process (`python -m wafaa.analytics`, app role, LOG_LEVEL
WARNING). Pairs of `MessageReceived` (a customer's text, English / Arabic / Arabizi, 10 tenants,
3 channels) and `ReplyReady` (the bot's answer, `in_reply_to_platform_message_id` set) are published
by `EventPublisher` from this process, messages before their replies. A warm-up of 100 events runs
first, outside the clock. Events/s = events / (first publish to `analytics.processed_events`, read as
the admin role every 100 ms, holding every event).

Endpoints: the analytics tables are seeded as the admin role with COPY (asyncpg
`copy_records_to_table`) to stand for 1,000,000 inbound messages over the last 90 days across
100 tenants, 30% of them (300,000) the gateway's logged-in tenant and the rest spread evenly over 99
other tenants. Every message is generated (tenant-local day, an hour with a daytime peak, channel by
customer, language, sentiment label and score, emoji, intent, a bot or (5%) human reply with its
response time, sent or (1%) failed, delivered / read, conversation start for 1 in 4 messages with
escalation, bot resolution and resolution time, a knowledge gap for fallback / handoff answers to
questions) and written in the shapes the consumer writes: `hourly_rollups` (every counter),
`customer_days`, `sentiment_rollups`, `intent_rollups`, `failure_rollups`, `response_times` (one row
per sent reply and per resolved conversation), `knowledge_gaps` and `gap_rollups`; then
`response_time_blocks` and `customer_activity` are built from them by the backfill statements of
migration `anal0003` (what the consumer appends per event), then ANALYZE.
Per-message fact rows (`message_insights`, `replies`, `conversations`, `deliveries`) are not
seeded: no endpoint reads them. Each endpoint is then called sequentially over one keep-alive
connection with `from`/`to` covering the 90 days (5 warm-up calls, then up to 200 timed calls
or 20 s, at least 20 calls);
latency = client round trip, nearest-rank percentiles. The previous period (which `overview` and
`agent/insights` also read) holds no rows.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import numpy as np
import psutil

from bench import results
from bench.http_stack import gateway
from bench.measure import percentile
from tests.fixtures.processes import ServiceProcess
from wafaa.analytics.migrations.versions.anal0003_response_time_blocks_and_customer_activity import BACKFILL
from wafaa.common.analytics.reader import COUNTERS
from wafaa.common.config import CommonSettings
from wafaa.common.events import MessageReceived, MessageReceivedPayload, ReplyReady, ReplyReadyPayload
from wafaa.common.messaging import EventPublisher
from wafaa.common.runtime.worker import make_broker

TARGET_MS = 100.0
DAYS = 90
CHANNELS = ("whatsapp", "instagram", "web")
LANGUAGES = ("en", "ar", "arabizi")
LABELS = ("positive", "neutral", "negative")
INTENTS = ("greeting", "complaint", "feedback", "order_inquiry", "question", "other")
ERROR_CODES = ("timeout", "rate_limited", "invalid_recipient", "131026")
TEXTS = (
    ("What time do you close on Friday?", "Open until 11 pm on Fridays."),
    ("The food was amazing, thank you so much! 😍", "Thank you, see you soon!"),
    ("My order is late again, this is terrible", "Sorry! Checking with the kitchen now."),
    ("هل عندكم طاولة لشخصين الليلة؟", "نعم، عندنا طاولة الساعة الثامنة."),
    ("الأكل كان رائع جدا شكرا", "شكرا لك!"),
    ("marhaba, 3indkom delivery la marina?", "Yes, we deliver to Dubai Marina."),
    ("Do you have vegan options on the menu?", "Yes, the mezze platter is vegan."),
    ("Hello", "Hello! How can I help?"),
)
ENDPOINTS = (
    "/overview",
    "/trends",
    "/trends?granularity=hour",
    "/channels",
    "/agent/sentiment",
    "/agent/response-times",
    "/agent/insights",
)


def _pg(url: str) -> str:
    return url.replace("postgresql+asyncpg", "postgresql")


# --- Consumer --------------------------------------------------------------------------------------


def _pairs(tenants: list[uuid.UUID], count: int, rng: np.random.Generator) -> list[Any]:
    """`count` message + reply pairs, round robin over the tenants, messages first in each pair."""
    events: list[Any] = []
    for n in range(count):
        tenant = tenants[n % len(tenants)]
        question, answer = TEXTS[int(rng.integers(0, len(TEXTS)))]
        channel = CHANNELS[n % 3]
        customer = f"97150{int(rng.integers(0, 2000)):07d}"
        ref = f"wamid.{uuid.uuid4().hex}"
        received = MessageReceived(
            tenant_id=tenant,
            payload=MessageReceivedPayload(
                channel=channel,
                platform_message_id=ref,
                customer_id=customer,
                text=question,
                received_at=datetime.now(UTC),
            ),
        )
        reply = ReplyReady(
            tenant_id=tenant,
            payload=ReplyReadyPayload(
                conversation_id=uuid.uuid4(),
                message_id=uuid.uuid4(),
                channel=channel,
                recipient_id=customer,
                text=answer,
                in_reply_to_platform_message_id=ref,
            ),
        )
        events.extend((received, reply))
    return events


async def _processed(admin: asyncpg.Connection) -> int:
    return int(await admin.fetchval("SELECT count(*) FROM analytics.processed_events"))


async def _wait_processed(admin: asyncpg.Connection, expected: int, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    while (done := await _processed(admin)) < expected and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    return done


async def consumer_run(infra: Any, pairs: int, tenants: int, timeout: float) -> dict[str, Any]:
    env = {"DATABASE_URL": infra.app_url, "REDIS_URL": infra.redis_url, "LOG_LEVEL": "WARNING"}
    service = ServiceProcess("wafaa.analytics", env, Path(tempfile.mkdtemp(prefix="bench-analytics-logs-"))).start()
    broker = make_broker(CommonSettings(database_url=infra.app_url, redis_url=infra.redis_url))
    await broker.connect()
    publisher = EventPublisher(broker, maxlen=1_000_000, service="bench")
    admin = await asyncpg.connect(_pg(infra.admin_url))
    rng = np.random.default_rng(3)
    try:
        service.wait_ready(90)
        warm = _pairs([uuid.uuid4()], 50, rng)
        await publisher.publish_many(warm)
        base = await _wait_processed(admin, len(warm), 120)
        events = _pairs([uuid.uuid4() for _ in range(tenants)], pairs, rng)
        proc = psutil.Process(service.pid)
        cpu = sum(proc.cpu_times()[:2])
        started = time.monotonic()
        publishing = asyncio.create_task(publisher.publish_many(events))
        done = await _wait_processed(admin, base + len(events), timeout) - base
        elapsed = time.monotonic() - started
        cpu = sum(proc.cpu_times()[:2]) - cpu
        await publishing
        rows = await admin.fetchrow(
            "SELECT (SELECT count(*) FROM analytics.message_insights) AS insights, "
            "(SELECT coalesce(sum(messages_in), 0) FROM analytics.hourly_rollups) AS messages_in, "
            "(SELECT coalesce(sum(replies_bot), 0) FROM analytics.hourly_rollups) AS replies_bot"
        )
        return {
            "events": len(events),
            "handled": done,
            "seconds": elapsed,
            "insights": int(rows["insights"]) - len(warm),
            "messages_in": int(rows["messages_in"]) - len(warm) // 2,
            "replies_bot": int(rows["replies_bot"]) - len(warm) // 2,
            "tenants": tenants,
            "cpu_s": cpu,
        }
    finally:
        await admin.close()
        await broker.stop()
        service.stop(30)


# --- Seeding ---------------------------------------------------------------------------------------


class Messages:
    """One generated row per inbound message (numpy arrays, index = message)."""

    def __init__(self, total: int, tenants: int, big_share: float, seed: int = 21) -> None:
        rng = np.random.default_rng(seed)
        big = int(total * big_share)
        rest = np.full(tenants - 1, (total - big) // (tenants - 1))
        rest[: (total - big) - int(rest.sum())] += 1
        self.per_tenant = np.concatenate([[big], rest])
        n = int(self.per_tenant.sum())
        self.n = n
        self.tenant = np.repeat(np.arange(tenants), self.per_tenant)
        self.day = rng.integers(0, DAYS, n)
        hours = np.array([1, 1, 1, 1, 1, 1, 2, 3, 5, 6, 7, 8, 10, 10, 8, 7, 7, 8, 10, 12, 12, 9, 5, 2], dtype=float)
        self.hour = rng.choice(24, n, p=hours / hours.sum())
        customers = np.maximum(self.per_tenant // 15, 10)[self.tenant]
        self.customer = (rng.random(n) * customers).astype(np.int64)
        self.channel = self.customer % 3
        self.language = rng.choice(3, n, p=[0.5, 0.4, 0.1])
        self.label = rng.choice(3, n, p=[0.3, 0.55, 0.15])
        self.score = np.where(
            self.label == 0, rng.uniform(0.05, 1, n), np.where(self.label == 2, rng.uniform(-1, -0.05, n), 0.0)
        )
        self.emoji = rng.poisson(0.3, n)
        self.intent = rng.choice(6, n, p=[0.15, 0.05, 0.1, 0.2, 0.4, 0.1])
        self.human = rng.random(n) < 0.05
        bot = ~self.human
        self.fallback = bot & (rng.random(n) < 0.03)
        self.handoff = bot & ~self.fallback & (rng.random(n) < 0.02)
        self.failed = rng.random(n) < 0.01
        sent = ~self.failed
        self.sent = sent
        self.delivered = sent & (rng.random(n) < 0.97)
        self.read = self.delivered & (rng.random(n) < 0.8)
        self.status_failed = sent & ~self.delivered & (rng.random(n) < 0.5)
        self.error = rng.integers(0, len(ERROR_CODES), n)
        self.rt = np.where(self.human, rng.lognormal(np.log(240), 1.0, n), rng.lognormal(np.log(2.5), 0.6, n))
        self.conversation = rng.random(n) < 0.25
        self.escalated = self.conversation & (self.human | self.handoff | (rng.random(n) < 0.05))
        self.bot_resolved = self.conversation & ~self.escalated & (rng.random(n) < 0.85)
        self.resolved = self.conversation & (rng.random(n) < 0.6)
        self.resolution = rng.lognormal(np.log(900), 1.0, n)
        self.gaps_per_tenant = np.maximum(self.per_tenant // 1000, 5)
        self.gap = (self.fallback | self.handoff) & np.isin(self.intent, [3, 4])
        self.gap_index = (rng.power(0.3, n) * self.gaps_per_tenant[self.tenant]).astype(np.int64)


def _group(columns: list[np.ndarray], dims: list[int]) -> tuple[list[np.ndarray], np.ndarray]:
    """The distinct combinations of the columns (decoded) and each row's group index."""
    codes = np.ravel_multi_index(columns, dims)
    keys, inverse = np.unique(codes, return_inverse=True)
    return list(np.unravel_index(keys, dims)), inverse


def _sum(inverse: np.ndarray, size: int, weights: np.ndarray) -> np.ndarray:
    return np.bincount(inverse, weights=weights.astype(float), minlength=size)


async def seed(admin_url: str, big_tenant: uuid.UUID, m: Messages, today: date) -> dict[str, int]:
    """COPY the rollups, response times and gaps of the generated messages; rows per table."""
    tenant_ids = [big_tenant] + [uuid.uuid4() for _ in range(len(m.per_tenant) - 1)]
    days = [today - timedelta(days=DAYS - 1 - i) for i in range(DAYS)]
    nt = len(tenant_ids)
    copied: dict[str, int] = {}
    conn = await asyncpg.connect(_pg(admin_url))

    async def copy(table: str, columns: list[str], records: list[tuple[Any, ...]]) -> None:
        for start in range(0, len(records), 200_000):
            await conn.copy_records_to_table(
                table, schema_name="analytics", columns=columns, records=records[start : start + 200_000]
            )
        copied[table] = len(records)

    def common(keys: list[np.ndarray]) -> list[Any]:
        return [
            [tenant_ids[t] for t in keys[0].tolist()],
            [days[d] for d in keys[1].tolist()],
        ]

    try:
        # hourly_rollups: every counter at the message's local day, hour and channel.
        keys, inv = _group([m.tenant, m.day, m.hour, m.channel], [nt, DAYS, 24, 3])
        size = len(keys[0])
        bot = ~m.human
        sent_bot, sent_human = m.sent & bot, m.sent & m.human
        counters = {
            "messages_in": np.ones(m.n),
            "replies_bot": bot,
            "replies_human": m.human,
            "fallback_replies": m.fallback,
            "handoff_replies": m.handoff,
            "conversations": m.conversation,
            "escalated": m.escalated,
            "bot_resolved": m.bot_resolved,
            "replies_sent": m.sent,
            "replies_failed": m.failed,
            "delivered": m.delivered,
            "read": m.read,
            "status_failed": m.status_failed,
            "bot_rt_count": sent_bot,
            "bot_rt_sum": np.where(sent_bot, m.rt, 0.0),
            "human_rt_count": sent_human,
            "human_rt_sum": np.where(sent_human, m.rt, 0.0),
            "resolution_count": m.resolved,
            "resolution_sum": np.where(m.resolved, m.resolution, 0.0),
        }
        assert set(counters) == set(COUNTERS)
        sums = [_sum(inv, size, counters[c]) for c in COUNTERS]
        cols = [
            s.tolist() if c.endswith("_sum") else s.astype(np.int64).tolist()
            for c, s in zip(COUNTERS, sums, strict=True)
        ]
        base = common(keys)
        records = list(
            zip(*base, keys[2].astype(int).tolist(), [CHANNELS[c] for c in keys[3].tolist()], *cols, strict=True)
        )
        await copy("hourly_rollups", ["tenant_id", "day", "hour", "channel", *COUNTERS], records)

        # customer_days: one row per customer, local day and channel.
        keys, _ = _group([m.tenant, m.day, m.channel, m.customer], [nt, DAYS, 3, int(m.customer.max()) + 1])
        records = list(
            zip(
                *common(keys),
                [CHANNELS[c] for c in keys[2].tolist()],
                [f"97150{c:07d}" for c in keys[3].tolist()],
                strict=True,
            )
        )
        await copy("customer_days", ["tenant_id", "day", "channel", "customer_id"], records)

        # sentiment_rollups and intent_rollups.
        keys, inv = _group([m.tenant, m.day, m.channel, m.language, m.label], [nt, DAYS, 3, 3, 3])
        size = len(keys[0])
        records = list(
            zip(
                *common(keys),
                [CHANNELS[c] for c in keys[2].tolist()],
                [LANGUAGES[x] for x in keys[3].tolist()],
                [LABELS[x] for x in keys[4].tolist()],
                _sum(inv, size, np.ones(m.n)).astype(np.int64).tolist(),
                _sum(inv, size, m.score).tolist(),
                _sum(inv, size, m.emoji).astype(np.int64).tolist(),
                strict=True,
            )
        )
        await copy(
            "sentiment_rollups",
            ["tenant_id", "day", "channel", "language", "label", "messages", "score_sum", "emoji"],
            records,
        )
        keys, inv = _group([m.tenant, m.day, m.channel, m.intent], [nt, DAYS, 3, 6])
        records = list(
            zip(
                *common(keys),
                [CHANNELS[c] for c in keys[2].tolist()],
                [INTENTS[x] for x in keys[3].tolist()],
                np.bincount(inv).tolist(),
                strict=True,
            )
        )
        await copy("intent_rollups", ["tenant_id", "day", "channel", "intent", "messages"], records)

        # failure_rollups: failed sends and failed statuses, by error code.
        failing = m.failed | m.status_failed
        keys, inv = _group(
            [m.tenant[failing], m.day[failing], m.channel[failing], m.error[failing]], [nt, DAYS, 3, len(ERROR_CODES)]
        )
        records = list(
            zip(
                *common(keys),
                [CHANNELS[c] for c in keys[2].tolist()],
                [ERROR_CODES[x] for x in keys[3].tolist()],
                np.bincount(inv).tolist(),
                strict=True,
            )
        )
        await copy("failure_rollups", ["tenant_id", "day", "channel", "error_code", "failures"], records)

        # response_times: one row per sent reply (bot or human) and per resolved conversation.
        records = []
        for mask, kind, seconds in (
            (sent_bot, "bot", m.rt),
            (sent_human, "human", m.rt),
            (m.resolved, "resolution", m.resolution),
        ):
            idx = np.flatnonzero(mask)
            records.extend(
                zip(
                    [tenant_ids[t] for t in m.tenant[idx].tolist()],
                    [kind] * len(idx),
                    [uuid.uuid4() for _ in range(len(idx))],
                    [CHANNELS[c] for c in m.channel[idx].tolist()],
                    [days[d] for d in m.day[idx].tolist()],
                    m.hour[idx].astype(int).tolist(),
                    seconds[idx].tolist(),
                    strict=True,
                )
            )
        await copy("response_times", ["tenant_id", "kind", "ref", "channel", "day", "hour", "seconds"], records)

        # knowledge_gaps (a directory per tenant) and gap_rollups.
        gap_ids = [[uuid.uuid4() for _ in range(int(g))] for g in m.gaps_per_tenant]
        now = datetime.now(UTC)
        records = [
            (
                tenant_ids[t],
                gap_id,
                [f"term{g}", "menu", "price"],
                f"Do you have dish number {g} on the menu?",
                json.dumps([f"Do you have dish number {g} on the menu?"]),
                0,
                now,
            )
            for t, ids in enumerate(gap_ids)
            for g, gap_id in enumerate(ids)
        ]
        await copy(
            "knowledge_gaps", ["tenant_id", "id", "terms", "label", "examples", "occurrences", "last_seen_at"], records
        )
        g = m.gap
        keys, inv = _group(
            [m.tenant[g], m.day[g], m.channel[g], m.gap_index[g]], [nt, DAYS, 3, int(m.gaps_per_tenant.max())]
        )
        records = list(
            zip(
                *common(keys),
                [CHANNELS[c] for c in keys[2].tolist()],
                [gap_ids[t][x] for t, x in zip(keys[0].tolist(), keys[3].tolist(), strict=True)],
                np.bincount(inv).tolist(),
                strict=True,
            )
        )
        await copy("gap_rollups", ["tenant_id", "day", "channel", "gap_id", "occurrences"], records)
        await conn.execute(
            "UPDATE analytics.knowledge_gaps g SET occurrences = s.n FROM (SELECT gap_id, sum(occurrences) AS n "
            "FROM analytics.gap_rollups GROUP BY gap_id) s WHERE s.gap_id = g.id"
        )
        # The derived tables the consumer keeps next to the facts, built as the migration backfills them.
        for statement in BACKFILL:
            await conn.execute(statement)
        for table in ("response_time_blocks", "customer_activity"):
            copied[table] = await conn.fetchval(f"SELECT count(*) FROM analytics.{table}")
        await conn.execute("ANALYZE")
    finally:
        await conn.close()
    return copied


# --- Endpoints -------------------------------------------------------------------------------------


def time_endpoints(
    url: str, headers: dict[str, str], start: date, end: date, calls: int, budget_s: float
) -> dict[str, list[float]]:
    timings: dict[str, list[float]] = {}
    with httpx.Client(base_url=f"{url}/api/v1/analytics", headers=headers, timeout=60) as client:
        for path in ENDPOINTS:
            params = {"from": start.isoformat(), "to": end.isoformat()}
            for _ in range(5):
                client.get(path, params=params).raise_for_status()
            ms = []
            deadline = time.monotonic() + budget_s
            while len(ms) < calls and (len(ms) < 20 or time.monotonic() < deadline):
                started = time.perf_counter()
                response = client.get(path, params=params)
                ms.append((time.perf_counter() - started) * 1000)
                response.raise_for_status()
            timings[path] = ms
            print(f"{path}: p50 {percentile(ms, 0.5):.1f} ms, p95 {percentile(ms, 0.95):.1f} ms", flush=True)
    return timings


# --- Main --------------------------------------------------------------------------------------------


def run(args: argparse.Namespace) -> str:
    lines: list[str] = []
    with gateway() as gw:
        measured = asyncio.run(consumer_run(gw.infra, args.pairs, args.tenants, args.timeout))
        rate = measured["handled"] / measured["seconds"]
        cpu_ms = measured["cpu_s"] / max(measured["handled"], 1) * 1000
        lines += [
            "Consumer:",
            "",
            "| Events (MessageReceived + ReplyReady) | Tenants | Handled | Seconds | Events/s | "
            "Service CPU ms/event | Insight rows | messages_in | replies_bot |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
            f"| {measured['events']:,} | {measured['tenants']} | {measured['handled']:,} | "
            f"{measured['seconds']:.1f} | **{rate:,.0f}** | {cpu_ms:.1f} | "
            f"{measured['insights']:,} | "
            f"{measured['messages_in']:,} | {measured['replies_bot']:,} |",
        ]
        print("\n".join(lines), flush=True)
        today = date.today()
        messages = Messages(args.messages, args.seed_tenants, args.big_share)
        started = time.monotonic()
        copied = asyncio.run(seed(gw.infra.admin_url, uuid.UUID(gw.tenant_id), messages, today))
        seeded_s = time.monotonic() - started
        big = int(messages.per_tenant[0])
        print(f"seeded in {seeded_s:.0f} s: {copied}", flush=True)
        timings = time_endpoints(
            gw.process.url, gw.auth_headers, today - timedelta(days=DAYS - 1), today, args.calls, args.budget
        )
    lines += [
        "",
        f"Endpoints: {args.messages:,} messages, {args.seed_tenants} tenants, the largest tenant "
        f"{big:,} messages ({args.big_share:.0%}), period = the last {DAYS} days, up to {args.calls} calls each "
        f"(fewer when an endpoint's calls pass {args.budget:.0f} s, at least 20; "
        f"seeded in {seeded_s:.0f} s). Rows seeded: "
        + ", ".join(f"`{table}` {count:,}" for table, count in copied.items())
        + ".",
        "",
        "| Endpoint (largest tenant, 90 days) | Calls | p50 ms | p95 ms | max ms | p95 < 100 ms |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for path, ms in timings.items():
        p95 = percentile(ms, 0.95)
        lines.append(
            f"| `{path}` | {len(ms)} | {percentile(ms, 0.5):.1f} | {p95:.1f} | {max(ms):.1f} | "
            f"{'yes' if p95 < TARGET_MS else '**no**'} |"
        )
    missed = [p for p, ms in timings.items() if percentile(ms, 0.95) >= TARGET_MS]
    lines += [
        "",
        "- Target: p95 of each analytics endpoint under 100 ms for the largest tenant over 90 days: "
        + ("**met**." if not missed else f"**not met** ({', '.join(f'`{p}`' for p in missed)})."),
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--pairs", type=int, default=5_000, help="message + reply pairs for the consumer")
    parser.add_argument("--tenants", type=int, default=10, help="tenants for the consumer run")
    parser.add_argument("--timeout", type=float, default=300.0, help="longest wait for the consumer, s")
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--seed-tenants", type=int, default=100)
    parser.add_argument("--big-share", type=float, default=0.3)
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--budget", type=float, default=20.0, help="seconds per endpoint (at least 20 calls)")
    parser.add_argument("--no-write", action="store_true", help="print only; leave RESULTS.md alone")
    args = parser.parse_args(argv)
    table = run(args)
    command = results.command("bench.analytics", parser, args)
    packages = ("fastapi", "uvicorn", "sqlalchemy", "asyncpg", "redis")
    results.publish("analytics", "Analytics", command, __doc__, table, packages, write=not args.no_write)


if __name__ == "__main__":
    main()
