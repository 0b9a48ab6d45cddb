"""Pipeline benchmark: signed WhatsApp webhooks through all five services to replies at the fake Graph API.

What runs: an embedded Postgres and Redis, migrated; the five services as processes as in production
(`python -m wafaa.gateway`, `wafaa.ingestion`, `wafaa.rag`, `wafaa.channels`, `wafaa.analytics`, one process
each, every setting at its default except: `LOG_LEVEL` (the column below), `UPLOADS_DIR` (a temporary
directory), `WHATSAPP_API_BASE_URL` pointed at the fake Graph API, `BCRYPT_ROUNDS=4` (set-up logins only)
and `TURN_WINDOW_SECONDS` as stated below). The answerer is `LLM_PROVIDER=local` (the grounded extractive
answerer) and the embedder the default `local` one (Universal Sentence Encoder) in ingestion and rag.
The fake Graph API (`tests.fixtures.fake_graph`, answering at once) runs in its own process on 127.0.0.1
and writes one line per message send: its arrival time (wall clock) and the quoted `context.message_id`.

Set-up (not timed): N tenants through `POST /api/v1/platform/tenants`, each owner logged in, a WhatsApp
channel each through `POST /api/v1/channels`, and a short restaurant FAQ (about 1 KB of text, written in
this module, the tenant's name in it) uploaded through `POST /api/v1/knowledge` and indexed by the
ingestion service (waited for `ready`). Then one warm-up message per tenant, each answered before the clock
starts (the first message loads rag's embedding model).

Load: `--messages` signed webhooks (the body of `../shared/reference/meta-payloads/wa_text.json`,
compact, `X-Hub-Signature-256` with the gateway's development app secret) at `--messages / --seconds`
per second (plus the duplicates below) on a fixed schedule (open loop, at most 512 in flight, from this
process on uvloop with `bench.http_load`'s client), round robin over the tenants. Every message has its
own id and its own customer (a customer's messages inside one turn window are answered as one reply, so
one message per customer makes the expected reply count exact); the texts cycle through questions the
FAQ answers.
On top, `--duplicates` webhooks (default 1% of the messages) repeat the exact bytes of an earlier message
(as Meta's retries do), spread over the same schedule (the webhooks/s offered counts them): they must be
accepted (2xx) and answered by nobody.
Latency = the fake's arrival time of the reply's first part (the send quoting the inbound id) minus the
message's scheduled send time. Sustained replies/s = replies delivered / (first send to last delivery).
Lost = messages answered 2xx by the gateway with no reply after the drain (the drain ends when every reply
arrived, or when none arrived for `--idle-timeout` s); a duplicate is a second reply quoting the same id.
CPU seconds (user + system) and peak resident memory are per process tree (the service and its children,
Postgres with its backends), sampled every second over the load and the drain.

Floors (same run, after the pipeline drained and ingestion, rag, channels and analytics were stopped):
(1) webhook ingress alone: the same gateway process with nothing downstream answering new signed webhooks
for the same channels, full speed (`bench.http_load.closed_loop`, 32 connections) and paced at the
pipeline's rate with the pipeline's own client (latency from the scheduled send to the 2xx); it includes
parse, route, HMAC, Redis dedup and XADD, and leaves out every consumer. (2) the rag responder's
own work per message in this process, one message after another: the local embedder on the question,
`wafaa.common.knowledge.search` in a tenant transaction and `LocalAnswerer`; it leaves out the stream hops,
storing the message, the turn schedule, history, storing and publishing the reply, and the send.
Everything shares the machine's CPUs.
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
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil
import uvloop
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from starlette.requests import Request
from starlette.responses import JSONResponse

from bench import http_load, results
from bench.measure import percentile as pct
from bench.measure import spawned_server, tree_cpu, tree_rss
from tests.fixtures.fake_graph import FakeGraphApi
from tests.fixtures.infrastructure import Infrastructure, provide_infrastructure
from tests.fixtures.processes import ServiceProcess
from wafaa.common.db.migrate import migrate
from wafaa.gateway.config import DEV_META_APP_SECRET, DEV_PLATFORM_API_KEY
from wafaa.gateway.webhooks.signature import sign

WEBHOOK_PATH = "/api/v1/webhooks/whatsapp"
PAYLOAD = Path(__file__).resolve().parents[2] / "shared" / "reference" / "meta-payloads" / "wa_text.json"
PASSWORD = "Bench-Owner-Passw0rd!"  # throwaway tenants on an embedded database
DOWNSTREAM = ("ingestion", "rag", "channels", "analytics")
MAX_IN_FLIGHT = 512
MB = 2**20
QUESTIONS = (
    "What time do you open on Sunday?",
    "How much is delivery?",
    "Is all the food halal?",
    "Where can I park?",
    "Can I pay with Apple Pay?",
    "How many people can the terrace seat?",
    "Do you have vegan dishes?",
    "How long does delivery take?",
)
CUISINES = ("Lebanese", "Emirati", "Syrian", "Turkish", "Moroccan", "Palestinian", "Yemeni", "Egyptian")


def faq(n: int) -> str:
    """A short restaurant FAQ for tenant n (about 1 KB)."""
    name = f"Bayt {CUISINES[n % len(CUISINES)]} {n}"
    opens = 7 + n % 3
    return f"""# {name} - frequently asked questions

## Opening hours
We are open every day. Sunday to Thursday from {opens}:00 am to 11:00 pm. Friday and Saturday from
9:00 am to 1:00 am. During Ramadan we open from sunset (iftar) until 3:00 am.

## Reservations
Tables for up to 8 people can be reserved by WhatsApp or phone, up to 14 days ahead. The garden terrace
seats {20 + n % 20} people and needs a deposit of 200 AED.

## Delivery
We deliver within {5 + n % 5} km between 11:00 am and 10:30 pm. Delivery is free for orders over 75 AED;
otherwise the delivery fee is 10 AED. Delivery usually takes 35 minutes.

## Food
Every dish on the menu is halal. Vegetarian dishes are marked (V) and vegan dishes (VG).
Please tell us about allergies when you order.

## Parking and access
Free customer parking is behind the restaurant. The entrance is wheelchair accessible.

## Payment
We accept cash, all major cards, Apple Pay and Google Pay.
"""


# --- Numbers ------------------------------------------------------------------------------------


class RecordingGraph(FakeGraphApi):
    """The fake Graph API, writing one JSON line per WhatsApp message send to `log`."""

    def __init__(self, port: int, log: Path) -> None:
        super().__init__(port=port)
        self.out = log.open("a", buffering=1)

    async def _messages(self, request: Request) -> JSONResponse:
        response = await super()._messages(request)
        with self._lock:
            records = list(self.requests)
            self.requests.clear()
        for r in records:
            body = r.body if isinstance(r.body, dict) else {}
            if "text" in body or "interactive" in body:
                quoted = body.get("context", {}).get("message_id")
                self.out.write(json.dumps({"at": r.at, "to": body.get("to"), "reply_to": quoted}) + "\n")
        return response


def serve_graph(port: int, log: str) -> None:
    """Entry point of the fake Graph API's process."""
    import uvicorn

    fake = RecordingGraph(port, Path(log))
    uvicorn.run(fake.app(), host="127.0.0.1", port=port, log_level="warning", access_log=False, lifespan="off")


@contextlib.contextmanager
def graph_process(log: Path) -> Any:
    """The recording fake as a spawned process; yields (base URL, pid)."""
    with spawned_server(serve_graph, str(log), what="the fake Graph API") as (port, pid):
        yield f"http://127.0.0.1:{port}", pid


@dataclass
class Deliveries:
    """The fake's send log, read as it grows: arrival times by quoted inbound id."""

    path: Path
    offset: int = 0
    by_inbound: dict[str, list[float]] = field(default_factory=dict)
    unquoted: int = 0  # sends without context (a long reply's later parts)
    last_at: float = 0.0

    def poll(self) -> int:
        """Read the complete lines written since the last call; how many sends they hold."""
        if not self.path.exists():
            return 0
        with self.path.open("rb") as f:
            f.seek(self.offset)
            chunk = f.read()
        end = chunk.rfind(b"\n") + 1
        self.offset += end
        lines = chunk[:end].splitlines()
        for line in lines:
            send = json.loads(line)
            self.last_at = max(self.last_at, send["at"])
            if send["reply_to"]:
                self.by_inbound.setdefault(send["reply_to"], []).append(send["at"])
            else:
                self.unquoted += 1
        return len(lines)

    def answered(self, ids: set[str] | dict[str, Any]) -> int:
        return sum(1 for i in ids if i in self.by_inbound)


# --- Processes: CPU and memory ------------------------------------------------------------------


class Usage:
    """CPU seconds and peak RSS of named process trees between `start` and `stop`."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = pids
        self.cpu_start: dict[str, float] = {}
        self.cpu: dict[str, float] = {}
        self.peak: dict[str, int] = dict.fromkeys(pids, 0)
        self.machine_busy = 0.0  # CPU seconds the whole machine spent busy (every process, ours or not)
        self._machine_start = 0.0
        self._task: asyncio.Task[None] | None = None

    @staticmethod
    def _busy() -> float:
        t = psutil.cpu_times()  # guest time is already inside user; steal is the hypervisor's
        return float(t.user + t.nice + t.system + getattr(t, "irq", 0.0) + getattr(t, "softirq", 0.0))

    def _rss(self, pid: int) -> int:
        if pid == os.getpid():  # this process alone: the services and servers are its children
            return int(psutil.Process().memory_info().rss)
        return tree_rss(pid)

    def _cpu(self, pid: int) -> float:
        if pid == os.getpid():
            return time.process_time()
        return tree_cpu(pid)

    def _sample(self) -> None:
        for name, pid in self.pids.items():
            self.peak[name] = max(self.peak[name], self._rss(pid))

    async def _loop(self) -> None:
        while True:
            await asyncio.to_thread(self._sample)
            await asyncio.sleep(1.0)

    def start(self) -> None:
        self.cpu_start = {name: self._cpu(pid) for name, pid in self.pids.items()}
        self._machine_start = self._busy()
        self._task = asyncio.create_task(self._loop())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._sample()
        self.cpu = {name: self._cpu(pid) - self.cpu_start[name] for name, pid in self.pids.items()}
        self.machine_busy = self._busy() - self._machine_start


# --- Set-up: tenants, channels, knowledge -------------------------------------------------------


@dataclass
class Tenant:
    n: int
    id: str
    phone_number_id: str
    headers: dict[str, str]
    document_id: str


async def create_tenant(client: httpx.AsyncClient, n: int, run_id: str) -> Tenant:
    """A tenant, its owner logged in, a WhatsApp channel and the FAQ uploaded (not yet indexed)."""
    email = f"owner-{run_id}-{n}@bench.example"
    created = await client.post(
        "/api/v1/platform/tenants",
        headers={"X-Platform-Key": DEV_PLATFORM_API_KEY},
        json={"name": f"Bench Restaurant {n}", "owner_email": email, "owner_password": PASSWORD},
    )
    assert created.status_code == 201, created.text
    login = await client.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert login.status_code == 200, login.text
    headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
    phone = f"77{int(run_id, 16) % 10**6:06d}{n:06d}"
    body = {"platform": "whatsapp", "phone_number_id": phone, "access_token": f"EAAG-bench-{n}"}
    channel = await client.post("/api/v1/channels", json=body, headers=headers)
    assert channel.status_code == 201, channel.text
    upload = await client.post(
        "/api/v1/knowledge", files=[("files", (f"faq-{n}.txt", faq(n).encode(), "text/plain"))], headers=headers
    )
    assert upload.status_code == 202, upload.text
    return Tenant(n, created.json()["tenant"]["id"], phone, headers, upload.json()[0]["id"])


async def set_up_tenants(url: str, count: int, run_id: str, timeout: float) -> list[Tenant]:
    """`count` tenants with their channel and an indexed FAQ."""
    slots = asyncio.Semaphore(8)
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:

        async def one(n: int) -> Tenant:
            async with slots:
                return await create_tenant(client, n, run_id)

        tenants = await asyncio.gather(*(one(n) for n in range(count)))
        deadline = time.monotonic() + timeout
        waiting = {t.document_id: t for t in tenants}
        while waiting:
            for document_id, t in list(waiting.items()):
                status = (await client.get(f"/api/v1/knowledge/{document_id}", headers=t.headers)).json()["status"]
                if status == "ready":
                    del waiting[document_id]
                elif status == "failed":
                    raise RuntimeError(f"tenant {t.n}'s FAQ failed to index")
            if waiting and time.monotonic() > deadline:
                raise TimeoutError(f"{len(waiting)} FAQs not indexed after {timeout:.0f} s")
            await asyncio.sleep(0.5)
    return list(tenants)


# --- Webhooks -----------------------------------------------------------------------------------


@dataclass
class Message:
    id: str
    tenant: int
    body: bytes
    request: bytes


class Webhooks:
    """Signed WhatsApp text webhooks for the tenants' channels, one customer per message."""

    def __init__(self, tenants: list[Tenant], port: int, prefix: str) -> None:
        template = json.loads(PAYLOAD.read_text())
        self.template, self.tenants, self.port, self.prefix = template, tenants, port, prefix
        self.count = 0

    def message(self, tenant: Tenant, customer: str, question: str) -> Message:
        body = json.loads(json.dumps(self.template))
        value = body["entry"][0]["changes"][0]["value"]
        value["metadata"]["phone_number_id"] = tenant.phone_number_id
        value["contacts"][0]["wa_id"] = customer
        value["contacts"][0]["profile"]["name"] = f"Customer {customer[-6:]}"
        message = value["messages"][0]
        message_id = f"wamid.{self.prefix}-{self.count:06d}"
        self.count += 1
        message.update({"from": customer, "id": message_id, "timestamp": str(int(time.time()))})
        message["text"]["body"] = question
        raw = json.dumps(body, separators=(",", ":")).encode()
        headers = {"content-type": "application/json", "x-hub-signature-256": sign(raw, DEV_META_APP_SECRET)}
        request = http_load.request_bytes("POST", WEBHOOK_PATH, self.port, headers, raw)
        return Message(message_id, tenant.n, raw, request)

    def batch(self, count: int, customer_prefix: str) -> list[Message]:
        """`count` messages round robin over the tenants, each from a new customer."""
        return [
            self.message(
                self.tenants[i % len(self.tenants)], f"{customer_prefix}{i:08d}", QUESTIONS[i % len(QUESTIONS)]
            )
            for i in range(count)
        ]


@dataclass
class Sent:
    """One webhook as sent: scheduled time (wall clock), answer time, status and the gateway's counts."""

    message: Message
    duplicate: bool
    due: float
    answered: float = 0.0
    status: int | None = None
    accepted: int = 0
    duplicates: int = 0
    error: str | None = None
    retried: bool = False  # the first try failed on a reused connection


def schedule(messages: list[Message], duplicates: int, seed: int = 7) -> list[tuple[Message, bool]]:
    """Messages in order with `duplicates` repeats of earlier messages spread after the first 10%."""
    rng = random.Random(seed)
    total = len(messages) + duplicates
    slots = set(rng.sample(range(max(total // 10, 1), total), min(duplicates, total - max(total // 10, 1))))
    out: list[tuple[Message, bool]] = []
    sent = 0
    for n in range(total):
        if n in slots and sent:
            out.append((messages[rng.randrange(sent)], True))
        elif sent < len(messages):
            out.append((messages[sent], False))
            sent += 1
    while sent < len(messages):
        out.append((messages[sent], False))
        sent += 1
    return out


async def send_paced(port: int, plan: list[tuple[Message, bool]], rate: float) -> list[Sent]:
    """Each webhook at start + n / rate (open loop), on an idle keep-alive connection or a new one.

    uvicorn closes a keep-alive connection after 5 s without a request, so a connection idle longer
    than `http_load.KEEP_ALIVE_S` is dropped rather than reused, and a send that fails on a reused
    connection is tried once more on a new one (as Meta retries; the gateway deduplicates by message id).
    """
    slots = asyncio.Semaphore(MAX_IN_FLIGHT)
    idle: list[tuple[float, http_load.Connection]] = []
    tasks: set[asyncio.Task[None]] = set()
    out: list[Sent] = []
    failures = (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError, ValueError)

    async def attempt(sent: Sent, conn: http_load.Connection | None) -> None:
        if conn is None:
            conn = await http_load.Connection.open(port)
        try:
            status, body = await asyncio.wait_for(conn.send(sent.message.request), 60)
        except failures:
            conn.close()
            raise
        sent.answered, sent.status = time.time(), status
        if 200 <= status < 300:
            answer = json.loads(body)
            sent.accepted, sent.duplicates = int(answer.get("accepted", 0)), int(answer.get("duplicates", 0))
        idle.append((time.monotonic(), conn))

    async def one(sent: Sent) -> None:
        try:
            reused = http_load.take_fresh(idle)
            try:
                await attempt(sent, reused)
            except failures:
                if reused is None:
                    raise
                sent.retried = True
                await attempt(sent, None)
        except failures as exc:
            sent.error = type(exc).__name__
        finally:
            slots.release()

    start, wall = time.perf_counter(), time.time()
    for n, (message, duplicate) in enumerate(plan):
        delay = start + n / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        await slots.acquire()
        sent = Sent(message, duplicate, wall + n / rate)
        out.append(sent)
        task = asyncio.create_task(one(sent))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    await asyncio.gather(*tasks)
    for _, conn in idle:
        conn.close()
    return out


# --- Database and streams -----------------------------------------------------------------------


async def stored_counts(infra: Infrastructure, prefix: str) -> tuple[int, int, int]:
    """Inbound rows of this run in rag.messages: all, distinct platform ids, still unanswered."""
    engine = create_async_engine(infra.admin_url)
    try:
        async with engine.connect() as conn:
            row = (
                await conn.execute(
                    text(
                        "SELECT count(*), count(DISTINCT platform_message_id), count(*) FILTER (WHERE NOT answered) "
                        "FROM rag.messages WHERE direction = 'in' AND platform_message_id LIKE :p"
                    ),
                    {"p": f"wamid.{prefix}-%"},
                )
            ).one()
    finally:
        await engine.dispose()
    return int(row[0]), int(row[1]), int(row[2])


async def delivery_statuses(infra: Infrastructure, customer_prefix: str) -> dict[str, int]:
    """channels.deliveries of this run's customers by status."""
    engine = create_async_engine(infra.admin_url)
    try:
        async with engine.connect() as conn:
            rows = (
                await conn.execute(
                    text("SELECT status, count(*) FROM channels.deliveries WHERE recipient_id LIKE :p GROUP BY status"),
                    {"p": f"{customer_prefix}%"},
                )
            ).all()
    finally:
        await engine.dispose()
    return {str(status): int(count) for status, count in rows}


async def group_lag(redis: Redis) -> dict[str, str]:
    """Per consumer group of the two busy streams: entries not yet read + read but not acknowledged."""
    out = {}
    for stream in ("wafaa.message.received", "wafaa.reply.ready"):
        with contextlib.suppress(Exception):
            for g in await redis.xinfo_groups(stream):
                name = g["name"].decode() if isinstance(g["name"], bytes) else g["name"]
                last = g["last-delivered-id"]
                last = last.decode() if isinstance(last, bytes) else last
                # Redis 6.2 has no `lag` field: count the entries after the group's last delivered id.
                unread = len(await redis.xrange(stream, min=f"({last}", max="+") or [])
                out[f"{stream.removeprefix('wafaa.')} → {name}"] = f"{unread:,} + {g['pending']:,}"
    return out


# --- The run ------------------------------------------------------------------------------------


@dataclass
class PipelineRun:
    sent: list[Sent]
    deliveries: Deliveries
    send_seconds: float
    first_due: float
    last_sent: float
    drain_end: float
    drained: bool
    at_last_send: dict[str, Any]
    stored: tuple[int, int, int]
    statuses: dict[str, int]
    lag_end: dict[str, str]
    dead_letters: dict[str, int]
    usage: Usage
    warmup: tuple[int, int, float]


async def wait_replies(deliveries: Deliveries, ids: set[str], timeout: float) -> int:
    deadline = time.monotonic() + timeout
    while deliveries.answered(ids) < len(ids) and time.monotonic() < deadline:
        deliveries.poll()
        await asyncio.sleep(0.2)
    return deliveries.answered(ids)


async def drain(deliveries: Deliveries, ids: set[str], idle_timeout: float, timeout: float) -> bool:
    """Wait until every message in `ids` has a reply (True), or none came for `idle_timeout` s, or `timeout`."""
    last_count, last_change = -1, time.monotonic()
    deadline = time.monotonic() + timeout
    while True:
        deliveries.poll()
        count = deliveries.answered(ids)
        if count >= len(ids):
            return True
        if count != last_count:
            last_count, last_change = count, time.monotonic()
        if time.monotonic() - last_change > idle_timeout or time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.2)


async def pipeline(
    infra: Infrastructure,
    gateway: ServiceProcess,
    procs: dict[str, ServiceProcess],
    graph_pid: int,
    deliveries: Deliveries,
    tenants: list[Tenant],
    args: argparse.Namespace,
    prefix: str,
) -> PipelineRun:
    """Warm-up, then the paced load and the drain."""
    hooks = Webhooks(tenants, gateway.port, prefix)
    warm = Webhooks(tenants, gateway.port, prefix + "w").batch(len(tenants), "9716")
    started = time.monotonic()
    warm_sent = await send_paced(gateway.port, [(m, False) for m in warm], 20.0)
    warm_ok = await wait_replies(deliveries, {s.message.id for s in warm_sent}, args.warmup_timeout)
    warmup = (warm_ok, len(warm), time.monotonic() - started)
    print(f"warm-up: {warm_ok}/{len(warm)} replies in {warmup[2]:.0f} s", flush=True)

    messages = hooks.batch(args.messages, "9715")
    plan = schedule(messages, args.duplicates)
    rate = len(plan) / args.seconds
    pids = {name: p.pid for name, p in procs.items()}
    pids["fake Graph API"] = graph_pid
    pids["bench client (this process)"] = os.getpid()
    if infra.postgres is not None:
        pids["Postgres"] = int((infra.postgres.pgdata / "postmaster.pid").read_text().split()[0])
    if infra.redis is not None and infra.redis.process is not None:
        pids["Redis"] = infra.redis.process.pid
    usage = Usage(pids)
    redis = Redis.from_url(infra.redis_url)
    usage.start()
    ids = {m.id for m in messages}

    async def progress() -> None:
        t0 = time.monotonic()
        while True:
            await asyncio.sleep(5)
            deliveries.poll()
            print(f"  {time.monotonic() - t0:5.0f} s: {deliveries.answered(ids):,} replied", flush=True)

    reporter = asyncio.create_task(progress())
    t0 = time.perf_counter()
    sent = await send_paced(gateway.port, plan, rate)
    send_seconds = time.perf_counter() - t0
    last_sent = time.time()
    deliveries.poll()
    at_last_send = {
        "replied": deliveries.answered(ids),
        "stored": await stored_counts(infra, prefix),
        "lag": await group_lag(redis),
    }
    ok_ids = {s.message.id for s in sent if not s.duplicate and s.status is not None and 200 <= s.status < 300}
    drained = await drain(deliveries, ok_ids, args.idle_timeout, args.drain_timeout)
    drain_end = deliveries.last_at
    await asyncio.sleep(args.settle)  # late duplicates would show here
    deliveries.poll()
    reporter.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await reporter
    await usage.stop()
    lag_end = await group_lag(redis)
    dead_letters = {}
    for key in await redis.keys("*.dlq"):
        name = key.decode() if isinstance(key, bytes) else key
        dead_letters[name] = int(await redis.xlen(name))
    await redis.aclose()
    return PipelineRun(
        sent=sent,
        deliveries=deliveries,
        send_seconds=send_seconds,
        first_due=sent[0].due,
        last_sent=last_sent,
        drain_end=drain_end,
        drained=drained,
        at_last_send=at_last_send,
        stored=await stored_counts(infra, prefix),
        statuses=await delivery_statuses(infra, "9715"),
        lag_end=lag_end,
        dead_letters=dead_letters,
        usage=usage,
        warmup=warmup,
    )


# --- Floors -------------------------------------------------------------------------------------


@dataclass
class Floors:
    full_speed: http_load.Run | None = None
    paced: http_load.Run | None = None
    rag_ms: list[float] = field(default_factory=list)
    rag_seconds: float = 0.0
    rag_pg_cpu_ms: float = float("nan")
    # per part (embed, search, answer): wall ms and this process's CPU ms (all threads), per message
    rag_parts: dict[str, list[float]] = field(default_factory=dict)
    rag_part_cpu: dict[str, float] = field(default_factory=dict)


async def ingress_floor(
    gateway: ServiceProcess, tenants: list[Tenant], rate: float, args: argparse.Namespace
) -> Floors:
    """The gateway alone (no consumer running): full speed, then paced at the pipeline's rate."""
    hooks = Webhooks(tenants, gateway.port, "floor")

    def builder(batch: list[Message]) -> Callable[[int], bytes]:
        return lambda n: batch[n].request

    floors = Floors()
    warm = hooks.batch(300, "9717")
    await http_load.closed_loop(gateway.port, builder(warm), 32, len(warm), gateway.pid)
    timed = hooks.batch(args.floor_webhooks, "9718")
    floors.full_speed = await http_load.closed_loop(gateway.port, builder(timed), 32, len(timed), gateway.pid)
    paced = hooks.batch(int(rate * args.floor_seconds), "9719")
    cpu_before, started = tree_cpu(gateway.pid), time.perf_counter()
    sent = await send_paced(gateway.port, [(m, False) for m in paced], rate)  # as the pipeline sends
    run = http_load.Run(elapsed=time.perf_counter() - started, cpu_server=tree_cpu(gateway.pid) - cpu_before)
    for s in sent:
        if s.status is not None and 200 <= s.status < 300:
            run.latencies.append((s.answered - s.due) * 1000)
        else:
            key = s.error or str(s.status)
            run.errors[key] = run.errors.get(key, 0) + 1
    floors.paced = run
    return floors


async def rag_floor(infra: Infrastructure, tenants: list[Tenant], floors: Floors, count: int) -> None:
    """Embed + search + local answer per question in this process, one after another."""
    from wafaa.common.config import CommonSettings
    from wafaa.common.db import Database
    from wafaa.common.knowledge import search
    from wafaa.common.knowledge.vectors import VectorStoreSettings, make_vector_store
    from wafaa.common.providers import EmbeddingSettings, make_embedder
    from wafaa.common.tenancy.bot_settings import read_bot_settings
    from wafaa.rag.answers.language import detect_language
    from wafaa.rag.answers.llm import LocalAnswerer
    from wafaa.rag.answers.prompt import AnswerRequest

    db = Database.from_settings(CommonSettings(database_url=infra.app_url, redis_url=infra.redis_url))
    embedder = make_embedder(EmbeddingSettings())
    store = make_vector_store(VectorStoreSettings())
    llm = LocalAnswerer()
    postgres = int((infra.postgres.pgdata / "postmaster.pid").read_text().split()[0]) if infra.postgres else 0
    try:
        await embedder.embed(["warm up"])

        parts: dict[str, list[float]] = {"embed": [], "search": [], "answer": []}
        cpu: dict[str, float] = dict.fromkeys(parts, 0.0)

        def mark(part: str, wall: float, cpu_start: float) -> tuple[float, float]:
            now, cpu_now = time.perf_counter(), time.process_time()
            parts[part].append((now - wall) * 1000)
            cpu[part] += cpu_now - cpu_start
            return now, cpu_now

        async def one(n: int) -> None:
            tenant = uuid.UUID(tenants[n % len(tenants)].id)
            question = QUESTIONS[n % len(QUESTIONS)]
            wall, cpu_at = time.perf_counter(), time.process_time()
            [vector] = await embedder.embed([question])
            wall, cpu_at = mark("embed", wall, cpu_at)
            async with db.transaction(tenant) as session:
                settings = await read_bot_settings(session, tenant)
                hits = await search(
                    session,
                    tenant,
                    vector,
                    question,
                    top_k=max(settings.top_k, 12),
                    min_score=settings.min_score,
                    embedding_model=embedder.model,
                    store=store,
                )
            wall, cpu_at = mark("search", wall, cpu_at)
            request = AnswerRequest(
                question=question,
                standalone_question=question,
                language=detect_language(question),
                hits=hits,
                settings=settings,
            )
            await llm.answer(request)
            mark("answer", wall, cpu_at)

        for n in range(min(count, 20)):
            await one(n)
        for values in parts.values():
            values.clear()
        cpu = dict.fromkeys(parts, 0.0)
        pg_before = tree_cpu(postgres) if postgres else 0.0
        started = time.perf_counter()
        for n in range(count):
            t0 = time.perf_counter()
            await one(n)
            floors.rag_ms.append((time.perf_counter() - t0) * 1000)
        floors.rag_seconds = time.perf_counter() - started
        floors.rag_parts = parts
        floors.rag_part_cpu = {k: v / count * 1000 for k, v in cpu.items()}
        if postgres:
            floors.rag_pg_cpu_ms = (tree_cpu(postgres) - pg_before) / count * 1000
    finally:
        await db.dispose()
        with contextlib.suppress(Exception):
            close = getattr(embedder, "aclose", None) or getattr(embedder, "close", None)
            if close is not None:
                result = close()
                if asyncio.iscoroutine(result):
                    await result


# --- Report -------------------------------------------------------------------------------------


def seconds(values: list[float]) -> str:
    return " / ".join(f"{pct(values, q):,.2f}" for q in (0.5, 0.95, 0.99)) + f" / {max(values, default=0):,.2f}"


def report(
    args: argparse.Namespace,
    run: PipelineRun,
    floors: Floors,
    tenants: int,
    setup_seconds: float,
    load: tuple[float, float],
) -> str:
    """The markdown tables and the reading."""
    sent, d = run.sent, run.deliveries
    originals = [s for s in sent if not s.duplicate]
    ok = [s for s in originals if s.status is not None and 200 <= s.status < 300]
    ok_dups = [s for s in sent if s.duplicate and s.status is not None and 200 <= s.status < 300]
    not_ok = len(sent) - len(ok) - len(ok_dups)
    errors: dict[str, int] = {}
    for s in sent:
        if s.status is None or not 200 <= s.status < 300:
            key = s.error or str(s.status)
            errors[key] = errors.get(key, 0) + 1
    error_text = ", ".join(f"{k}×{v}" for k, v in errors.items()) or "no errors"
    ok_ids = {s.message.id for s in ok}
    latencies = [d.by_inbound[s.message.id][0] - s.due for s in ok if s.message.id in d.by_inbound]
    delivered = len(latencies)
    duplicate_replies = sum(len(d.by_inbound[i]) - 1 for i in ok_ids if i in d.by_inbound)
    all_ids = {s.message.id for s in originals}
    stray = sum(len(v) for k, v in d.by_inbound.items() if k.startswith(f"wamid.{args.prefix}-") and k not in all_ids)
    lost = len(ok_ids) - delivered
    first_delivery = min((d.by_inbound[i][0] for i in ok_ids if i in d.by_inbound), default=run.first_due)
    last_delivery = max((d.by_inbound[i][0] for i in ok_ids if i in d.by_inbound), default=run.first_due)
    span = last_delivery - run.first_due
    sustained = delivered / span if span > 0 else float("nan")
    offered = len(sent) / args.seconds
    achieved_send = len(sent) / run.send_seconds
    gateway_answers = [s.answered - s.due for s in sent if s.answered]
    accepted = sum(s.accepted for s in sent)
    dedup = sum(s.duplicates for s in ok_dups)
    stored_all, stored_distinct, unanswered = run.stored
    replied_then = run.at_last_send["replied"]
    stored_then = run.at_last_send["stored"]
    drain = last_delivery - run.last_sent
    target_rate = args.messages / args.seconds
    # Kept up: every reply came and no backlog was left at the last send (the drain took no longer
    # than the turn window plus a few seconds of work).
    kept_up = run.drained and drain <= args.turn_window + 5
    lines = [
        f"Load: {args.messages:,} messages + {args.duplicates} duplicate webhooks in {args.seconds:g} s "
        f"({offered:,.1f} webhooks/s offered) across {tenants} tenants, one customer per message; "
        f"`TURN_WINDOW_SECONDS={args.turn_window:g}` (the default is 2: the debounce wait is in every latency), "
        f"`LOG_LEVEL={args.log_level}` in every service. Set-up (tenants, channels, FAQs indexed) took "
        f"{setup_seconds:.0f} s; warm-up {run.warmup[0]}/{run.warmup[1]} replies in {run.warmup[2]:.0f} s.",
        "",
        "| Metric | Value |",
        "|---|---:|",
        f"| Webhooks sent (messages + duplicates) | {len(sent):,} ({len(originals):,} + "
        f"{len(sent) - len(originals):,}) in {run.send_seconds:,.1f} s = {achieved_send:,.1f}/s |",
        f"| Webhooks answered 2xx | {len(ok) + len(ok_dups):,} ({error_text}; "
        f"{sum(s.retried for s in sent)} sent again after a reused connection failed) |",
        f"| Gateway answer time p50 / p99 / max (s, from the scheduled send) | {pct(gateway_answers, 0.5):,.3f} / "
        f"{pct(gateway_answers, 0.99):,.3f} / {max(gateway_answers, default=0):,.3f} |",
        f"| Events accepted / reported duplicate by the gateway | {accepted:,} / {dedup:,} of {len(ok_dups)} repeats |",
        f"| Inbound messages stored (rag.messages, distinct ids) | {stored_all:,} ({stored_distinct:,}) |",
        f"| Replies delivered to the fake Graph API | {delivered:,} of {len(ok_ids):,} |",
        f"| **Sustained replies/s** (first send → last delivery, {span:,.1f} s) | **{sustained:,.1f}** |",
        f"| Webhook → delivered p50 / p95 / p99 / max (s) | {seconds(latencies)} |",
        f"| First reply after the first send (s) | {first_delivery - run.first_due:,.2f} |",
        f"| At the last send: replied / stored, not yet answered / not yet stored | {replied_then:,} / "
        f"{stored_then[2]:,} / {len(ok_ids) - stored_then[1]:,} |",
        f"| Time to drain after the last send (s) | {drain:,.1f}{'' if run.drained else ' (did not drain)'} |",
        f"| Duplicate replies (second reply quoting one id) | {duplicate_replies} |",
        f"| Lost (2xx, no reply after the drain) | {lost}{f' ({unanswered} stored unanswered)' if lost else ''}"
        f"{'' if run.drained else ' — the drain was cut off, so these may only be late'} |",
        f"| Replies to ids never sent, sends without a quoted id | {stray}, {d.unquoted} |",
        f"| channels.deliveries by status | {', '.join(f'{k} {v:,}' for k, v in sorted(run.statuses.items()))} |",
        f"| Dead letters (`*.dlq` entries) | {', '.join(f'{k} {v}' for k, v in run.dead_letters.items()) or 'none'} |",
        "",
        "Consumer groups at the last send and at the end (unread lag + read but unacknowledged):",
        "",
        "| Stream → group | At the last send | At the end |",
        "|---|---:|---:|",
    ]
    for key in sorted(set(run.at_last_send["lag"]) | set(run.lag_end)):
        lines.append(f"| {key} | {run.at_last_send['lag'].get(key, '-')} | {run.lag_end.get(key, '-')} |")
    window = run.drain_end - run.first_due if run.drain_end > run.first_due else float("nan")
    lines += [
        "",
        f"Processes over the load and the drain ({window:,.0f} s):",
        "",
        "| Process (tree) | CPU s | CPU % of one core | CPU ms per reply delivered | Peak RSS MB |",
        "|---|---:|---:|---:|---:|",
    ]
    per = max(delivered, 1)
    for name in run.usage.pids:
        cpu = run.usage.cpu.get(name, float("nan"))
        lines.append(
            f"| {name} | {cpu:,.1f} | {cpu / window:.0%} | {cpu / per * 1000:,.0f} | {run.usage.peak[name] / MB:,.0f} |"
        )
    total_cpu = sum(run.usage.cpu.values())
    lines.append(
        f"| all of the above | {total_cpu:,.1f} | {total_cpu / window:.0%} | {total_cpu / per * 1000:,.0f} | |"
    )
    busy = run.usage.machine_busy
    lines.append(
        f"| the whole machine (every process, ours or not) | {busy:,.1f} | {busy / window:.0%} "
        f"| | of {os.cpu_count()} cores |"
    )
    lines += ["", "Floors (same run, downstream services stopped):", ""]
    lines += ["| Floor | Rate | Latency p50 / p99 (ms) | Cost |", "|---|---:|---:|---:|"]
    if floors.full_speed is not None and floors.paced is not None:
        f, p = floors.full_speed, floors.paced
        lines.append(
            f"| webhook ingress alone, full speed ({args.floor_webhooks:,} webhooks, 32 connections) "
            f"| {f.rps:,.0f}/s | {f.pct(0.5):,.1f} / {f.pct(0.99):,.1f} "
            f"| gateway {f.cpu_server / max(f.ok, 1) * 1e6:,.0f} µs CPU/webhook |"
        )
        lines.append(
            f"| webhook ingress alone, paced at {offered:,.1f}/s for {args.floor_seconds:g} s "
            f"| {p.rps:,.0f}/s ({p.ok:,} 2xx, {p.error_text()}) | {p.pct(0.5):,.1f} / {p.pct(0.99):,.1f} "
            f"| gateway {p.cpu_server / max(p.ok, 1) * 1e6:,.0f} µs CPU/webhook |"
        )
    if floors.rag_ms:
        part_cpu = floors.rag_part_cpu
        lines.append(
            f"| rag work in-process (embed + search + local answer), {len(floors.rag_ms)} in sequence "
            f"| {len(floors.rag_ms) / floors.rag_seconds:,.1f}/s | {pct(floors.rag_ms, 0.5):,.1f} / "
            f"{pct(floors.rag_ms, 0.99):,.1f} | {sum(part_cpu.values()):,.1f} ms CPU here + "
            f"{floors.rag_pg_cpu_ms:,.1f} ms Postgres per message |"
        )
        for part, values in floors.rag_parts.items():
            lines.append(
                f"| … of which {part} | | {pct(values, 0.5):,.1f} / {pct(values, 0.99):,.1f} "
                f"| {part_cpu[part]:,.1f} ms CPU |"
            )
    verdict = "**met**" if kept_up else "**not met**"
    clean = lost == 0 and duplicate_replies == 0 and stray == 0
    ours, cores = total_cpu / per * 1000, os.cpu_count() or 1
    lines += [
        "",
        f"- Target: {args.messages:,} messages in {args.seconds:g} s ({target_rate:,.0f}/s) answered at that rate: "
        f"{verdict} (sustained {sustained:,.1f} replies/s, {sustained / target_rate:.0%} of the offered rate; "
        f"at the last send {len(ok_ids) - replied_then:,} messages were still waiting for their reply, "
        f"drained {drain:,.1f} s later; met means no backlog: drained within the turn window + 5 s).",
        f"- Nothing lost or duplicated: **{'met' if clean else 'not met'}**"
        f" ({lost} lost, {duplicate_replies} duplicate replies, {not_ok} webhooks not answered 2xx).",
        f"- CPU per reply delivered, all processes above: {ours:,.0f} ms, so {cores} cores doing nothing "
        f"else would sustain at most about {cores * 1000 / ours:,.1f} replies/s with this set-up; "
        f"over the run the machine's {cores} cores were {busy / window / cores:.0%} busy, these processes "
        f"{total_cpu / max(busy, 1e-9):.0%} of that.",
        f"- Load average (1 min) before / after: {load[0]:.2f} / {load[1]:.2f} on {os.cpu_count()} CPUs "
        "shared with other work.",
    ]
    return "\n".join(lines)


# --- Main ---------------------------------------------------------------------------------------


def service_env(
    infra: Infrastructure, graph_url: str, uploads: Path, log_level: str, turn_window: float
) -> dict[str, str]:
    """The settings every service process gets: defaults, except what the module docstring lists."""
    return {
        "DATABASE_URL": infra.app_url,
        "REDIS_URL": infra.redis_url,
        "LOG_LEVEL": log_level,
        "UPLOADS_DIR": str(uploads),
        "WHATSAPP_API_BASE_URL": graph_url,
        "INSTAGRAM_API_BASE_URL": graph_url,
        "LLM_PROVIDER": "local",
        "TURN_WINDOW_SECONDS": str(turn_window),
        "BCRYPT_ROUNDS": "4",
        "ACCESS_TOKEN_MINUTES": "240",
    }


@contextlib.contextmanager
def services(env: dict[str, str], logs: Path, label: str = "") -> Iterator[dict[str, ServiceProcess]]:
    """The five services as processes, ready; stopped after, with a note for each that logged a traceback."""
    procs = {name: ServiceProcess(f"wafaa.{name}", env, logs).start() for name in ("gateway", *DOWNSTREAM)}
    try:
        for proc in procs.values():
            proc.wait_ready(180)
        yield procs
    finally:
        for proc in procs.values():
            proc.stop(30)
        for name, proc in procs.items():
            if "Traceback" in proc.logs():
                print(f"note: {label}{name} logged a traceback, see {proc.log_path}", flush=True)


async def run(args: argparse.Namespace) -> str:
    """Infrastructure, services, tenants; the pipeline; the floors; the report."""
    logs = Path(tempfile.mkdtemp(prefix="bench-pipeline-logs-"))
    uploads = Path(tempfile.mkdtemp(prefix="bench-pipeline-uploads-"))
    sends = logs / "graph-sends.jsonl"
    print(f"service logs in {logs}", flush=True)
    load_before = os.getloadavg()[0]
    try:
        for infra in provide_infrastructure():
            await migrate(infra.admin_url, infra.app_url)
            with graph_process(sends) as (graph_url, graph_pid):
                env = service_env(infra, graph_url, uploads, args.log_level, args.turn_window)
                with services(env, logs) as procs:
                    started = time.monotonic()
                    tenants = await set_up_tenants(procs["gateway"].url, args.tenants, args.prefix, 600)
                    setup_seconds = time.monotonic() - started
                    print(f"{len(tenants)} tenants ready in {setup_seconds:.0f} s", flush=True)
                    measured = await pipeline(
                        infra, procs["gateway"], procs, graph_pid, Deliveries(sends), tenants, args, args.prefix
                    )
                    for name in DOWNSTREAM:
                        procs[name].stop(30)
                    rate = (args.messages + args.duplicates) / args.seconds
                    floors = await ingress_floor(procs["gateway"], tenants, rate, args)
                    if args.rag_floor:
                        await rag_floor(infra, tenants, floors, args.rag_floor)
    finally:
        shutil.rmtree(uploads, ignore_errors=True)
    return report(args, measured, floors, len(tenants), setup_seconds, (load_before, os.getloadavg()[0]))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.pipeline", description=__doc__.splitlines()[0] if __doc__ else None
    )
    parser.add_argument("--messages", type=int, default=10_000, help="distinct inbound messages")
    parser.add_argument("--seconds", type=float, default=60.0, help="over how long they are sent")
    parser.add_argument("--tenants", type=int, default=100)
    parser.add_argument(
        "--duplicates", type=int, default=None, help="extra webhooks repeating an earlier message (default 1%%)"
    )
    parser.add_argument("--turn-window", type=float, default=2.0, help="TURN_WINDOW_SECONDS of rag")
    parser.add_argument("--log-level", default="WARNING", help="LOG_LEVEL of every service")
    parser.add_argument("--idle-timeout", type=float, default=120.0, help="drain ends after so long without a reply")
    parser.add_argument("--drain-timeout", type=float, default=3600.0, help="longest drain after the last send")
    parser.add_argument("--settle", type=float, default=5.0, help="wait after the drain for late duplicates")
    parser.add_argument("--warmup-timeout", type=float, default=300.0)
    parser.add_argument("--floor-webhooks", type=int, default=3000, help="ingress floor, full speed")
    parser.add_argument("--floor-seconds", type=float, default=10.0, help="ingress floor, paced")
    parser.add_argument("--rag-floor", type=int, default=200, help="in-process rag questions (0: skip)")
    parser.add_argument("--no-write", action="store_true", help="print only; leave RESULTS.md alone")
    args = parser.parse_args(argv)
    duplicates_given = args.duplicates
    if args.duplicates is None:
        args.duplicates = max(1, args.messages // 100)
    args.prefix = uuid.uuid4().hex[:8]
    logging.getLogger().setLevel(logging.WARNING)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        table = runner.run(run(args))
    del args.prefix
    args.duplicates = duplicates_given
    command = results.command("bench.pipeline", parser, args)
    packages = ("fastapi", "uvicorn", "faststream", "redis", "sqlalchemy", "asyncpg")
    title = "Pipeline: webhooks to delivered replies"
    results.publish("pipeline", title, command, __doc__, table, packages, write=not args.no_write)


if __name__ == "__main__":
    main()
