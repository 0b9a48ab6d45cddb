"""Rag responder benchmark: MessageReceived to ReplyReady at parallel conversations, next to the same work in-process.

Setup: an embedded Postgres and Redis, migrated; a tenant and its owner created through the gateway's
onboarding service and a WhatsApp channel through `POST /api/v1/channels` (an in-process gateway, gone
before the clock starts); the six documents of `../shared/eval/restaurant` indexed by the ingestion
service as a process (default `local` embedder, Universal Sentence Encoder), which is then stopped.
The rag service runs as a process (`python -m wafaa.rag`, default `local` query embedder and pgvector,
every other setting at its default) with `TURN_WINDOW_SECONDS=0`: the debounce window is a deliberate
wait for a customer's next quick message, not work. `TURN_POLL_INTERVAL_MS` is the column "Turn poll"
(default: only the 50 ms default): a turn the process scheduled itself is claimed when it falls due,
and the poll finds only other replicas' turns and expired leases; `--poll-ms 50,5` compares values.
Answerers: `LLM_PROVIDER=local` (the grounded extractive answerer, whose time is the product's own work)
and `LLM_PROVIDER=openai` against a fake OpenAI-compatible server in its own process on 127.0.0.1
(`tests.fixtures.fake_openai`, streaming a fixed answer with no delay: the LLM's own time is about 0).
Nothing else consumes the streams (no channels sender, no analytics): `ReplyReady` is the finish line.

Load: simulated WhatsApp customers (distinct phone numbers, the channel's id as the webhook sets it,
`kind` text), each publishing `MessageReceived` with `EventPublisher` as the gateway does and waiting for
its `ReplyReady` before asking its next question of `questions.jsonl` (customer i of N starts at offset
i × 132 / N; the one question that reads as a complaint is left out, as would be any asking for a person:
those hand the conversation to a person). First one customer alone (its first message, which loads the
embedding model, not counted): the service's latency with nothing queued. Then N customers in parallel,
each pausing before every question for `--think` s × a uniform 0.5–1.5 (people read the reply and type;
the first pause staggers the start), or not at all with `--think 0` (a saturated closed loop, where the
latency is the queue: conversations ÷ replies/s); one warm-up round (every customer's first turn) is
not counted. Latency = `ReplyReady` read by this process (`XREAD BLOCK` on `wafaa.reply.ready`) minus the
moment before the `MessageReceived` was published (CLOCK_MONOTONIC, one process); nearest-rank
percentiles; replies/s = measured replies / time from the first measured publish to the last reply.
A fresh rag process and fresh customers for each answerer and poll interval.
Stages (from the rows' `created_at`, i.e. each transaction's start, against this process's wall clock):
publish to the start of the inbound message's transaction (stream hop and the queue in the consumer);
from there to the start of the reply's transaction (store, schedule, poll, claim, read, embed, search,
answer); from there to `ReplyReady` read here (store the reply, publish, stream hop).
Memory: the rag process's resident set (with any children), sampled every 50 ms: once ready, the peak over
the run and at the end. CPU ms/reply: user + system CPU over the measured questions of the rag process,
of the embedded Postgres (postmaster and backends, also those it reaped) and of Redis, divided by the
replies; the floor's: this process and Postgres. The customers' own CPU and the fake LLM's are in neither.

Floor (same run, this process, the same questions alone and then with the same concurrency): per
question, the same embedder (`make_embedder` with the default settings: local USE, off the event loop) on
the question, `wafaa.common.knowledge.search` in a tenant transaction (a pool of 10 + 10 as the service's,
top_k and min_score as the service picks them for the answerer) and the same answerer call
(`LocalAnswerer`, or `OpenAIAnswerer` on the same fake server). It leaves out what the product adds around
that: the stream hops, storing the message exactly once, the turn schedule and its polling, reading the
conversation, its history and the bot settings, rewriting a follow-up, storing the reply and publishing it.
All processes, Postgres and Redis share the machine's CPUs.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import random
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psutil
import uvloop
from faststream.redis import RedisBroker
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from bench import results
from bench.measure import percentile as pct
from bench.measure import spawned_server, tree_cpu, tree_rss
from tests.fixtures.gateway import create_tenant_with_owner, gateway_settings, headers_for, running_gateway
from tests.fixtures.infrastructure import Infrastructure, provide_infrastructure
from tests.fixtures.ingestion import EVAL
from tests.fixtures.processes import ServiceProcess
from tests.fixtures.rag import eval_files, index_documents
from wafaa.common.config import CommonSettings
from wafaa.common.db import Database
from wafaa.common.db.migrate import migrate
from wafaa.common.events import MessageReceived, MessageReceivedPayload, ReplyReady
from wafaa.common.knowledge import search
from wafaa.common.knowledge.vectors import VectorStoreSettings, make_vector_store
from wafaa.common.messaging import EventPublisher
from wafaa.common.providers import EmbeddingSettings, make_embedder
from wafaa.common.tenancy.bot_settings import read_bot_settings
from wafaa.rag.answers.language import asks_for_human, detect_language, is_complaint
from wafaa.rag.answers.llm import LlmGateway, LocalAnswerer, OpenAIAnswerer
from wafaa.rag.answers.prompt import AnswerRequest

REPLY_STREAM = ReplyReady.stream
QUESTIONS = EVAL / "questions.jsonl"
RSS_EVERY_S = 0.05
MB = 2**20
StreamReply = tuple[bytes, list[tuple[bytes, dict[bytes, bytes]]]]  # XREAD: (stream, [(entry id, fields)])


# --- Numbers -------------------------------------------------------------------------------------


def p50_95(values: list[float], digits: int = 0) -> str:
    """'p50 / p95' of values in ms."""
    return f"{pct(values, 0.5):,.{digits}f} / {pct(values, 0.95):,.{digits}f}"


def cpu_split(cpu_ms: dict[str, float]) -> str:
    """CPU ms per item of each process, 'a / b / c' in the meter's order."""
    return " / ".join(f"{v:,.1f}" for v in cpu_ms.values()) or "n/a"


def questions() -> list[str]:
    """The eval questions a bot answers (those asking for a person or complaining hand the chat to one)."""
    rows = [json.loads(line) for line in QUESTIONS.read_text().splitlines() if line.strip()]
    return [r["question"] for r in rows if not asks_for_human(r["question"]) and not is_complaint(r["question"])]


def infra_processes(infra: Infrastructure) -> dict[str, psutil.Process]:
    """The embedded Postgres (postmaster) and Redis processes (none for containers or external servers)."""
    out: dict[str, psutil.Process] = {}
    if infra.postgres is not None:
        out["Postgres"] = psutil.Process(int((infra.postgres.pgdata / "postmaster.pid").read_text().split()[0]))
    if infra.redis is not None and getattr(infra.redis, "process", None) is not None:
        out["Redis"] = psutil.Process(infra.redis.process.pid)
    return out


class CpuMeter:
    """CPU seconds spent by a few process trees between `start` and `stop`."""

    def __init__(self, processes: dict[str, psutil.Process]) -> None:
        self.processes = processes
        self._before: dict[str, float] = {}
        self.spent: dict[str, float] = {}

    def _read(self) -> dict[str, float]:
        return {name: tree_cpu(p, reaped=name == "Postgres") for name, p in self.processes.items()}

    def start(self) -> None:
        self._before = self._read()

    def stop(self) -> None:
        self.spent = {name: value - self._before[name] for name, value in self._read().items()}

    def per_item_ms(self, count: int) -> dict[str, float]:
        """CPU ms per reply (or question) of each process tree."""
        return {name: value / count * 1000 for name, value in self.spent.items()} if count else {}


# --- The fake OpenAI server, in its own process --------------------------------------------------


def serve_fake_openai(port: int) -> None:
    """Entry point of the fake LLM's process: `tests.fixtures.fake_openai` on uvicorn, no delay."""
    import uvicorn

    from tests.fixtures.fake_openai import FakeOpenAI

    fake = FakeOpenAI()
    fake.port = port
    uvicorn.run(fake.app(), host="127.0.0.1", port=port, log_level="warning", access_log=False, lifespan="off")


@contextlib.contextmanager
def fake_openai_process() -> Any:
    """Start the fake LLM server as a spawned process; yield its base URL."""
    with spawned_server(serve_fake_openai, what="the fake OpenAI server") as (port, _pid):
        yield f"http://127.0.0.1:{port}/v1"


# --- Setup: tenant, channel, knowledge --------------------------------------------------------------


@dataclass
class Tenant:
    id: uuid.UUID
    channel_id: uuid.UUID
    chunks: int


async def create_tenant(infra: Infrastructure) -> tuple[uuid.UUID, uuid.UUID]:
    """A tenant with its owner (onboarding service) and a WhatsApp channel (the channels API)."""
    uploads = Path(tempfile.mkdtemp(prefix="bench-rag-gateway-"))
    try:
        async with running_gateway(gateway_settings(infra, uploads_dir=uploads)) as (app, client):
            owner = await create_tenant_with_owner(app, name="Bayt Al Zaatar")
            headers = await headers_for(client, owner)
            body = {"platform": "whatsapp", "phone_number_id": "100200300400", "access_token": "EAAG-bench-token"}
            created = await client.post("/api/v1/channels", json=body, headers=headers)
            assert created.status_code == 201, created.text
            return owner.tenant_id, uuid.UUID(created.json()["id"])
    finally:
        shutil.rmtree(uploads, ignore_errors=True)


async def index_knowledge(infra: Infrastructure, tenant: uuid.UUID, logs: Path) -> int:
    """The eval documents through the ingestion service (default local embedder); the chunk count."""
    uploads = Path(tempfile.mkdtemp(prefix="bench-rag-uploads-"))
    env = {
        "DATABASE_URL": infra.app_url,
        "REDIS_URL": infra.redis_url,
        "UPLOADS_DIR": str(uploads),
        "LOG_LEVEL": "WARNING",
    }
    service = ServiceProcess("wafaa.ingestion", env, logs).start()
    broker = RedisBroker(infra.redis_url)
    redis = Redis.from_url(infra.redis_url)
    try:
        service.wait_ready(120)
        await broker.connect()
        await index_documents(
            EventPublisher(broker, maxlen=1_000_000, service="bench"), redis, uploads, tenant, eval_files()
        )
    finally:
        service.stop(30)
        await broker.stop()
        await redis.aclose()
        shutil.rmtree(uploads, ignore_errors=True)
    engine = create_async_engine(infra.admin_url)
    async with engine.connect() as conn:
        count = await conn.scalar(
            text("SELECT count(*) FROM ingestion.knowledge_chunks WHERE tenant_id = :t"), {"t": tenant}
        )
    await engine.dispose()
    return int(count or 0)


# --- Closed-loop customers ------------------------------------------------------------------------


@dataclass
class Reply:
    """One answered message: when it was sent and seen, and what came back."""

    latency_ms: float
    sent_wall: float
    seen_wall: float
    platform_message_id: str
    message_id: uuid.UUID
    fallback: bool
    handoff: bool


@dataclass
class Customers:
    """N customers, each asking its next question once the previous one was answered."""

    tenant: Tenant
    publisher: EventPublisher
    questions: list[str]
    count: int
    prefix: str
    timeout_s: float
    waiting: dict[str, asyncio.Future[tuple[float, float, dict[str, Any]]]] = field(default_factory=dict)
    think_s: float = 0.0  # each customer's pause before a question: uniform 0.5-1.5 x this
    asked: list[int] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)
    missing: int = 0

    def __post_init__(self) -> None:
        self.asked = [0] * self.count
        self.ids = [self._customer_id(i, 0) for i in range(self.count)]

    def _customer_id(self, i: int, generation: int) -> str:
        return f"9715{self.prefix}{generation:02d}{i:05d}"

    def _next_question(self, i: int) -> str:
        start = i * len(self.questions) // self.count
        question = self.questions[(start + self.asked[i]) % len(self.questions)]
        self.asked[i] += 1
        return question

    async def ask(self, i: int) -> Reply | None:
        """Customer i sends its next question and waits for the reply (None: none came in time)."""
        pmid = f"wamid.bench-{uuid.uuid4().hex}"
        event = MessageReceived(
            tenant_id=self.tenant.id,
            payload=MessageReceivedPayload(
                channel="whatsapp",
                channel_id=self.tenant.channel_id,
                platform_message_id=pmid,
                customer_id=self.ids[i],
                customer_name=f"Customer {i}",
                text=self._next_question(i),
                received_at=datetime.now(UTC),
            ),
        )
        future: asyncio.Future[tuple[float, float, dict[str, Any]]] = asyncio.get_running_loop().create_future()
        self.waiting[pmid] = future
        sent, sent_wall = time.monotonic(), time.time()
        await self.publisher.publish(event)
        try:
            seen, seen_wall, payload = await asyncio.wait_for(future, self.timeout_s)
        except TimeoutError:
            self.waiting.pop(pmid, None)
            self.missing += 1
            self.ids[i] = self._customer_id(i, self.asked[i])  # a new conversation; the old one may be stuck
            return None
        if payload["handoff"]:
            self.ids[i] = self._customer_id(i, self.asked[i])  # a person owns that conversation now
        return Reply(
            (seen - sent) * 1000,
            sent_wall,
            seen_wall,
            pmid,
            uuid.UUID(payload["message_id"]),
            bool(payload["fallback"]),
            bool(payload["handoff"]),
        )

    async def rounds(self, rounds: int) -> list[Reply]:
        """Every customer asks `rounds` questions, one after another; the replies that came."""

        async def customer(i: int) -> list[Reply]:
            out = []
            pauses = random.Random(f"{self.prefix}-{i}-{self.asked[i]}")
            for _ in range(rounds):
                if self.think_s:
                    await asyncio.sleep(pauses.uniform(0.5, 1.5) * self.think_s)
                reply = await self.ask(i)
                if reply is not None:
                    out.append(reply)
            return out

        per_customer = await asyncio.gather(*(customer(i) for i in range(self.count)))
        return [r for replies in per_customer for r in replies]

    def deliver(self, seen: float, seen_wall: float, payload: dict[str, Any]) -> None:
        """A ReplyReady was read: wake the customer waiting for it."""
        future = self.waiting.pop(payload.get("in_reply_to_platform_message_id") or "", None)
        if future is not None and not future.done():
            future.set_result((seen, seen_wall, payload))


def _decode(fields: dict[bytes, bytes]) -> dict[str, Any] | None:
    """The event envelope inside a FastStream stream entry (its JSON starts at `{"event_id"`)."""
    for value in fields.values():
        start = value.find(b'{"event_id"')
        if start >= 0:
            event: dict[str, Any] = json.JSONDecoder().raw_decode(value[start:].decode())[0]
            return event
    return None


async def read_replies(redis: Redis, after: str, tenant: uuid.UUID, deliver: Callable[..., None]) -> None:
    """Follow `wafaa.reply.ready` from `after` and hand every reply of the tenant to `deliver`."""
    last: str | bytes = after
    while True:
        reply: list[StreamReply] = await redis.xread({REPLY_STREAM: last}, count=500, block=1000)  # type: ignore[assignment]
        seen, seen_wall = time.monotonic(), time.time()
        for _stream, entries in reply or []:
            for entry_id, fields in entries:
                last = entry_id
                event = _decode(fields)
                if event is not None and event["tenant_id"] == str(tenant):
                    deliver(seen, seen_wall, event["payload"])


async def last_entry(redis: Redis, stream: str) -> str:
    """The id of a stream's newest entry ("0-0" when empty)."""
    newest: list[tuple[bytes, dict[bytes, bytes]]] = await redis.xrevrange(stream, count=1)  # type: ignore[assignment]
    return newest[0][0].decode() if newest else "0-0"


class Sampler:
    """Resident memory of a process tree, sampled in the background."""

    def __init__(self, pid: int) -> None:
        self.proc = psutil.Process(pid)
        self.samples: list[int] = []
        self._task: asyncio.Task[None] | None = None

    async def _loop(self) -> None:
        while True:
            self.samples.append(tree_rss(self.proc))
            await asyncio.sleep(RSS_EVERY_S)

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self.samples.append(tree_rss(self.proc))


# --- The service run ---------------------------------------------------------------------------------


@dataclass
class Phase:
    """One load level: its measured latencies (ms) and what else was counted."""

    conversations: int
    latencies: list[float]
    seconds: float
    missing: int = 0
    fallbacks: int = 0
    cpu_ms: dict[str, float] = field(default_factory=dict)  # per reply (question), by process
    stages: dict[str, list[float]] = field(default_factory=dict)
    embed: list[float] = field(default_factory=list)  # the floor's parts
    search: list[float] = field(default_factory=list)
    answer: list[float] = field(default_factory=list)

    @property
    def per_second(self) -> float:
        return len(self.latencies) / self.seconds if self.seconds > 0 else float("nan")


@dataclass
class ServiceRun:
    answerer: str
    poll_ms: int
    phases: list[Phase]
    rss_ready: int
    rss_peak: int
    rss_final: int


async def stages(infra: Infrastructure, tenant: uuid.UUID, replies: list[Reply]) -> dict[str, list[float]]:
    """Per reply: publish → inbound transaction start → reply transaction start → ReplyReady read (ms)."""
    engine = create_async_engine(infra.admin_url)
    async with engine.connect() as conn:
        inbound: dict[str, datetime] = dict(
            (
                await conn.execute(
                    text(
                        "SELECT platform_message_id, created_at FROM rag.messages "
                        "WHERE tenant_id = :t AND platform_message_id = ANY(:ids)"
                    ),
                    {"t": tenant, "ids": [r.platform_message_id for r in replies]},
                )
            ).all()
        )
        outbound: dict[uuid.UUID, datetime] = dict(
            (
                await conn.execute(
                    text("SELECT id, created_at FROM rag.messages WHERE tenant_id = :t AND id = ANY(:ids)"),
                    {"t": tenant, "ids": [r.message_id for r in replies]},
                )
            ).all()
        )
    await engine.dispose()
    out: dict[str, list[float]] = {"stored": [], "turn": [], "finish": []}
    for r in replies:
        stored, answered = inbound.get(r.platform_message_id), outbound.get(r.message_id)
        if stored is None or answered is None:
            continue
        out["stored"].append((stored.timestamp() - r.sent_wall) * 1000)
        out["turn"].append((answered.timestamp() - stored.timestamp()) * 1000)
        out["finish"].append((r.seen_wall - answered.timestamp()) * 1000)
    return out


async def measure(infra: Infrastructure, customers: Customers, rounds: int, proc: psutil.Process) -> Phase:
    """The customers' next `rounds` questions, timed, with the CPU of rag, Postgres and Redis."""
    customers.missing = 0
    meter = CpuMeter({"rag": proc, **infra_processes(infra)})
    meter.start()
    started = time.monotonic()
    replies = await customers.rounds(rounds)
    seconds = time.monotonic() - started
    meter.stop()
    return Phase(
        customers.count,
        [r.latency_ms for r in replies],
        seconds,
        customers.missing,
        sum(r.fallback for r in replies),
        meter.per_item_ms(len(replies)),
        await stages(infra, customers.tenant.id, replies),
    )


async def run_service(
    infra: Infrastructure,
    tenant: Tenant,
    answerer: str,
    poll_ms: int,
    fake_url: str,
    run: int,
    args: argparse.Namespace,
    logs: Path,
) -> ServiceRun:
    """One rag process: one customer alone, then N customers in parallel, each after its warm-up."""
    env = {
        "DATABASE_URL": infra.app_url,
        "REDIS_URL": infra.redis_url,
        "LOG_LEVEL": args.log_level,
        "LLM_PROVIDER": answerer,
        "TURN_WINDOW_SECONDS": "0",
        "TURN_POLL_INTERVAL_MS": str(poll_ms),
    }
    if answerer == "openai":
        env |= {"LLM_BASE_URL": fake_url, "OPENAI_API_KEY": "sk-bench"}
    service = ServiceProcess("wafaa.rag", env, logs, name=f"rag-{answerer}-{poll_ms}ms").start()
    broker = RedisBroker(infra.redis_url)
    redis = Redis.from_url(infra.redis_url)
    reader: asyncio.Task[None] | None = None
    sampler = Sampler(service.pid)
    try:
        service.wait_ready(120)
        rss_ready = tree_rss(sampler.proc)
        sampler.start()
        await broker.connect()
        publisher = EventPublisher(broker, maxlen=1_000_000, service="bench")
        many = Customers(
            tenant, publisher, questions(), args.conversations, f"{run:02d}", args.timeout, think_s=args.think
        )
        alone = Customers(tenant, publisher, questions(), 1, f"9{run:02d}", args.timeout, waiting=many.waiting)
        reader = asyncio.create_task(
            read_replies(redis, await last_entry(redis, REPLY_STREAM), tenant.id, many.deliver)
        )
        # The first message loads the query embedder's model (seconds): the lone customer's warm-up.
        if await alone.ask(0) is None:
            raise RuntimeError(f"no reply to the warm-up message; see {service.log_path}")
        phases = [await measure(infra, alone, args.solo, sampler.proc)]
        await many.rounds(args.warmup_rounds)
        phases.append(await measure(infra, many, args.rounds, sampler.proc))
        await sampler.stop()
    finally:
        if reader is not None:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
        await broker.stop()
        await redis.aclose()
        service.stop(30)
    return ServiceRun(answerer, poll_ms, phases, rss_ready, max(sampler.samples), sampler.samples[-1])


# --- The floor ------------------------------------------------------------------------------------


async def run_floor(
    infra: Infrastructure, tenant: Tenant, answerer: str, fake_url: str, args: argparse.Namespace
) -> list[Phase]:
    """Embed + search + answer per question in this process: alone, then with N tasks, as the service runs."""
    db = Database.from_settings(CommonSettings(database_url=infra.app_url, redis_url=infra.redis_url))
    embedder = make_embedder(EmbeddingSettings())
    store = make_vector_store(VectorStoreSettings())
    llm: LlmGateway = (
        OpenAIAnswerer("sk-bench", fake_url, timeout=30.0, max_retries=3) if answerer == "openai" else LocalAnswerer()
    )
    async with db.transaction(tenant.id) as session:
        settings = await read_bot_settings(session, tenant.id)
    top_k = settings.top_k if llm.name != "local" else max(settings.top_k, 12)
    asked = questions()
    await embedder.embed(["warm up"])

    async def one(question: str, phase: Phase | None) -> None:
        t0 = time.perf_counter()
        [vector] = await embedder.embed([question])
        t1 = time.perf_counter()
        async with db.transaction(tenant.id) as session:
            hits = await search(
                session,
                tenant.id,
                vector,
                question,
                top_k=top_k,
                min_score=settings.min_score,
                embedding_model=embedder.model,
                store=store,
            )
        t2 = time.perf_counter()
        request = AnswerRequest(
            question=question,
            standalone_question=question,
            language=detect_language(question),
            hits=hits,
            settings=settings,
        )
        await llm.answer(request)
        t3 = time.perf_counter()
        if phase is not None:
            phase.embed.append((t1 - t0) * 1000)
            phase.search.append((t2 - t1) * 1000)
            phase.answer.append((t3 - t2) * 1000)
            phase.latencies.append((t3 - t0) * 1000)

    async def rounds(conversations: int, first: int, count: int, phase: Phase | None) -> None:
        async def customer(i: int) -> None:
            start = i * len(asked) // conversations
            for r in range(first, first + count):
                await one(asked[(start + r) % len(asked)], phase)

        await asyncio.gather(*(customer(i) for i in range(conversations)))

    phases = []
    try:
        for conversations, warmup, count in ((1, 1, args.solo), (args.conversations, args.warmup_rounds, args.rounds)):
            await rounds(conversations, 0, warmup, None)
            phase = Phase(conversations, [], 0.0)
            postgres = {k: v for k, v in infra_processes(infra).items() if k == "Postgres"}
            meter = CpuMeter({"this process": psutil.Process(), **postgres})
            meter.start()
            started = time.monotonic()
            await rounds(conversations, warmup, count, phase)
            phase.seconds = time.monotonic() - started
            meter.stop()
            phase.cpu_ms = meter.per_item_ms(len(phase.latencies))
            phases.append(phase)
    finally:
        await db.dispose()
    return phases


# --- Report -----------------------------------------------------------------------------------------


def report(
    args: argparse.Namespace,
    chunks: int,
    runs: list[ServiceRun],
    floors: dict[str, list[Phase]],
    load: tuple[float, float],
) -> str:
    """The markdown tables and the target."""
    lines = [
        f"Knowledge: the 6 eval documents, {chunks} chunks. One customer alone asks {args.solo} questions, then "
        f"{args.conversations} customers in parallel ask {args.rounds} each (after {args.warmup_rounds} warm-up "
        f"round(s)), "
        + (f"pausing {args.think:g} s × 0.5–1.5 before each question. " if args.think else "without pauses. ")
        + f"`TURN_WINDOW_SECONDS=0`, every other rag setting at its default (`TURN_CONCURRENCY` 32, "
        f"`DB_POOL_SIZE` 10 + 10 overflow, `EMBEDDING_THREADS` {EmbeddingSettings().embedding_threads}, "
        f"`LOG_LEVEL` {args.log_level}).",
        "",
        "| Answerer | Turn poll | Conversations | Replies | Replies/s | p50 ms | p95 ms | p99 ms | max ms "
        "| Floor p50 / p95 ms | p95 ÷ floor p95 | Fallback replies | CPU ms/reply: rag / Postgres / Redis |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in runs:
        for phase, floor in zip(r.phases, floors[r.answerer], strict=True):
            ms = phase.latencies
            missing = f" ({phase.missing} missing)" if phase.missing else ""
            lines.append(
                f"| `{r.answerer}` | {r.poll_ms} ms | {phase.conversations} | {len(ms):,}{missing} "
                f"| {phase.per_second:,.1f} | {pct(ms, 0.5):,.0f} | {pct(ms, 0.95):,.0f} | {pct(ms, 0.99):,.0f} "
                f"| {max(ms, default=0):,.0f} | {p50_95(floor.latencies)} "
                f"| {pct(ms, 0.95) / pct(floor.latencies, 0.95):.1f}× | {phase.fallbacks / max(len(ms), 1):.0%} "
                f"| {cpu_split(phase.cpu_ms)} |"
            )
    lines += [
        "",
        "Where the time goes in the service (p50 / p95 ms; stage boundaries are transaction starts, see above):",
        "",
        "| Answerer | Turn poll | Conversations | Publish → inbound stored | Stored → reply transaction "
        "| Reply transaction → `ReplyReady` read | End to end |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in runs:
        for phase in r.phases:
            s = phase.stages
            lines.append(
                f"| `{r.answerer}` | {r.poll_ms} ms | {phase.conversations} | {p50_95(s['stored'], 1)} "
                f"| {p50_95(s['turn'], 1)} | {p50_95(s['finish'], 1)} | {p50_95(phase.latencies, 1)} |"
            )
    lines += [
        "",
        "Floor, in this process (p50 / p95 ms per question):",
        "",
        "| Answerer | Conversations | Embed | Search | Answer | Total | Questions/s "
        "| CPU ms/question: this process / Postgres |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, phases in floors.items():
        for f in phases:
            lines.append(
                f"| `{name}` | {f.conversations} | {p50_95(f.embed, 1)} | {p50_95(f.search, 1)} "
                f"| {p50_95(f.answer, 1)} | {p50_95(f.latencies, 1)} | {f.per_second:,.1f} | {cpu_split(f.cpu_ms)} |"
            )
    lines += [
        "",
        "Memory of each rag process (resident, MB): once ready / peak / at the end.",
        "",
        "| Answerer | Turn poll | Ready | Peak | End |",
        "|---|---:|---:|---:|---:|",
    ]
    for r in runs:
        lines.append(
            f"| `{r.answerer}` | {r.poll_ms} ms | {r.rss_ready / MB:,.0f} | {r.rss_peak / MB:,.0f} "
            f"| {r.rss_final / MB:,.0f} |"
        )
    met = {True: "**met**", False: "**not met**"}
    lines.append("")
    for r in runs:
        if r.answerer != "openai":
            continue
        for phase in r.phases:
            p95 = pct(phase.latencies, 0.95)
            lines.append(
                f"- Target p95 under 150 ms excluding the LLM's own time (the instant fake), turn poll {r.poll_ms} ms, "
                f"{phase.conversations} conversation(s): {met[p95 < 150 and not phase.missing]} (p95 {p95:,.0f} ms)."
            )
    if not args.think:
        lines.append(
            "- With no pause between a reply and a customer's next question the parallel run keeps the service "
            "saturated, so its latency is about conversations ÷ replies/s (Little's law): the wait builds in front "
            "of the scarcest resource (the inbound consumer, or turns waiting for the embedder and a connection)."
        )
    lines += [
        f"- Load average (1 min) before / after the run: {load[0]:.2f} / {load[1]:.2f} on {os.cpu_count()} CPUs.",
    ]
    return "\n".join(lines)


# --- Main -------------------------------------------------------------------------------------------


async def run(args: argparse.Namespace) -> str:
    """Set up once, then the floor and the service runs of each answerer."""
    answerers = [a.strip() for a in args.answerers.split(",") if a.strip()]
    polls = [int(p) for p in args.poll_ms.split(",") if p.strip()]
    logs = Path(tempfile.mkdtemp(prefix="bench-rag-logs-"))
    print(f"service logs in {logs}", flush=True)
    load_before = os.getloadavg()[0]
    runs: list[ServiceRun] = []
    floors: dict[str, list[Phase]] = {}
    for infra in provide_infrastructure():
        await migrate(infra.admin_url, infra.app_url)
        tenant_id, channel_id = await create_tenant(infra)
        logging.getLogger().setLevel(logging.WARNING)  # the in-process gateway set up INFO logging on stdout
        started = time.monotonic()
        chunks = await index_knowledge(infra, tenant_id, logs)
        print(f"indexed {chunks} chunks in {time.monotonic() - started:.0f} s", flush=True)
        tenant = Tenant(tenant_id, channel_id, chunks)
        with fake_openai_process() as fake_url:
            async with httpx.AsyncClient() as client:  # the fake answers before anyone relies on it
                probe = {"model": "x", "messages": [{"role": "user", "content": "hi"}]}
                (await client.post(f"{fake_url}/chat/completions", json=probe)).raise_for_status()
            for answerer in answerers:
                floors[answerer] = await run_floor(infra, tenant, answerer, fake_url, args)
                for phase in floors[answerer]:
                    print(
                        f"floor {answerer}, {phase.conversations} conversation(s): "
                        f"p50 / p95 {p50_95(phase.latencies, 1)} ms",
                        flush=True,
                    )
                for poll in polls:
                    measured = await run_service(infra, tenant, answerer, poll, fake_url, len(runs), args, logs)
                    runs.append(measured)
                    for phase in measured.phases:
                        print(
                            f"service {answerer}, poll {poll} ms, {phase.conversations} conversation(s): "
                            f"{len(phase.latencies)} replies ({phase.missing} missing), "
                            f"p50 / p95 {p50_95(phase.latencies)} ms",
                            flush=True,
                        )
    return report(args, chunks, runs, floors, (load_before, os.getloadavg()[0]))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.rag", description=__doc__.splitlines()[0] if __doc__ else None
    )
    parser.add_argument("--conversations", type=int, default=50, help="customers in parallel")
    parser.add_argument("--rounds", type=int, default=5, help="measured questions per customer in parallel")
    parser.add_argument("--warmup-rounds", type=int, default=1, help="questions per customer before the clock")
    parser.add_argument(
        "--think", type=float, default=5.0, help="customers' mean pause before a question, s (0: saturated loop)"
    )
    parser.add_argument("--solo", type=int, default=40, help="measured questions of the customer alone")
    parser.add_argument("--answerers", default="local,openai", help="LLM_PROVIDER values, comma-separated")
    parser.add_argument("--poll-ms", default="50", help="TURN_POLL_INTERVAL_MS values, comma-separated")
    parser.add_argument("--timeout", type=float, default=120.0, help="longest wait for one reply (s)")
    parser.add_argument("--log-level", default="INFO", help="LOG_LEVEL of the rag process (its default: INFO)")
    parser.add_argument("--no-write", action="store_true", help="print only; leave RESULTS.md alone")
    args = parser.parse_args(argv)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:  # as the services (uvicorn picks uvloop)
        table = runner.run(run(args))
    command = results.command("bench.rag", parser, args)
    packages = ("faststream", "redis", "pydantic", "pgvector", "openai")
    title = "Rag responder: MessageReceived to ReplyReady"
    results.publish("rag", title, command, __doc__, table, packages, write=not args.no_write)


if __name__ == "__main__":
    main()
