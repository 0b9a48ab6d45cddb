"""Knowledge benchmark: ingestion chunks/s end to end next to the raw embedder, and search latency at scale.

Ingestion: the ingestion service runs as a process (as in production) on an embedded Postgres and
Redis; `DocumentUploaded` events are published as the gateway publishes them, and the clock runs from
the first publish to the last `ready` status event. The floor is the same embedder, in this process,
embedding the very chunk texts the service stored (no extraction, chunking, events or inserts).
Peak memory is the highest summed RSS of the service and its child processes (parsing workers, the
local model's process), sampled every 20 ms.

Search: 1,000 tenants with 200 chunks each, one tenant just under the index threshold and one with
100,000 chunks; 512-dimensional unit vectors (as the local and hash embedders) with a low intrinsic
dimension (see `Vectors`), and texts of 40 words with natural word frequencies (see `Words`); queries
are five words drawn the same way. `wafaa-search-indexes` builds the large tenant's own
indexes first. The timed call is `wafaa.common.knowledge.search` (what `POST /knowledge/search` and the
bot run) inside a tenant transaction, top 10, hybrid (vector + words), after 20 untimed queries per row
(`--warmup`: the connection pool, cached plans, the tenant's index pages in shared buffers, as in a
service that has been answering). Recall compares the dense side's top 10 with the exact top 10
computed in numpy.
Floor (same run, interleaved with the timed searches, query by query): pgvector alone, the tenant's
10 nearest vectors by `ORDER BY embedding <=> q LIMIT 10` on a bare asyncpg connection (binary vectors,
no transaction, no full text, no fusion, no row-level security); for the big tenant the same expression
its HNSW index answers, at the same ef_search. What the search adds to it: the tenant check, the
full-text side, fusing both, reading the chunk rows, the tenant transaction and the Python client.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import json
import random
import shutil
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import psutil
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from bench import results
from bench.measure import percentile
from tests.fixtures.infrastructure import provide_infrastructure
from tests.fixtures.pdf import write_pdf
from tests.fixtures.processes import ServiceProcess
from wafaa.common.db import Database
from wafaa.common.db.migrate import migrate
from wafaa.common.events import DocumentUploaded, DocumentUploadedPayload
from wafaa.common.knowledge import search
from wafaa.common.messaging import EventPublisher
from wafaa.common.providers import EmbeddingSettings, make_embedder
from wafaa.common.runtime.worker import make_broker
from wafaa.ingestion.config import SearchIndexSettings
from wafaa.ingestion.search_indexes.service import maintain as maintain_indexes

STATUS_STREAM = "wafaa.document.status_changed"
WORDS = [
    "hummus",
    "falafel",
    "shawarma",
    "mezze",
    "tabbouleh",
    "kunafa",
    "saffron",
    "iftar",
    "suhoor",
    "brunch",
    "valet",
    "parking",
    "delivery",
    "jumeirah",
    "marina",
    "khalidiya",
    "halal",
    "vegan",
    "gluten",
    "allergy",
    "refund",
    "booking",
    "table",
    "terrace",
    "kids",
    "menu",
    "price",
    "lamb",
    "chicken",
    "grill",
    "lentil",
    "soup",
    "mint",
    "lemonade",
    "karak",
    "tea",
    "dates",
    "baklava",
    "manakish",
    "zaatar",
    "cheese",
]


# --- Generated documents -----------------------------------------------------------------------


def _pdf_escape(line: str) -> str:
    return line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def generated_pdf(pages: int, seed: int = 7) -> bytes:
    """A text PDF (Helvetica, about 40 lines a page) written by hand, so no PDF library is needed."""
    rng = random.Random(seed)
    objects: list[bytes] = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    kids = []
    for page in range(pages):
        lines = [f"SECTION {page + 1}: DISHES AND POLICIES"]
        for i in range(40):
            words = " ".join(rng.choice(WORDS) for _ in range(10))
            lines.append(f"{page + 1}.{i + 1} {words.capitalize()} - {rng.randint(12, 180)} AED")
        body = "BT /F1 9 Tf 40 800 Td 11 TL " + " ".join(f"({_pdf_escape(line)}) Tj T*" for line in lines) + " ET"
        stream = body.encode()
        objects.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
        content_id = len(objects)
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 3 0 R >> >> "
            b"/Contents %d 0 R >>" % content_id
        )
        kids.append(len(objects))
    objects[1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (" ".join(f"{k} 0 R" for k in kids).encode(), pages)
    return write_pdf(objects)


def small_documents(count: int, seed: int = 11) -> list[bytes]:
    """Short FAQ-like text files of one or two chunks each."""
    rng = random.Random(seed)
    docs = []
    for n in range(count):
        answer = " ".join(rng.choice(WORDS) for _ in range(rng.randint(25, 45)))
        docs.append(f"Q{n}: Do you have {rng.choice(WORDS)}?\n\n{answer.capitalize()}.\n".encode())
    return docs


# --- Ingestion run -------------------------------------------------------------------------------


class ServiceTree:
    """The service's process and its children (parsing workers, the model's process), for RSS samples.

    Finding the children walks every process on the machine (10 ms of CPU with 100 of them): done
    every half second, while the RSS of the processes found is read every 20 ms. (Walking on every
    sample took a third of a core from the service while the clock ran, and none from the floor.)
    """

    def __init__(self, proc: psutil.Process) -> None:
        self.proc = proc
        self.members: list[psutil.Process] = []
        self.refreshed = -1.0

    def rss(self) -> int:
        """The summed RSS of the tree now."""
        if time.monotonic() - self.refreshed >= 0.5:
            with contextlib.suppress(psutil.Error):
                self.members = [self.proc, *self.proc.children(recursive=True)]
            self.refreshed = time.monotonic()
        total = 0
        for p in self.members:
            with contextlib.suppress(psutil.Error):
                total += p.memory_info().rss
        return total


class CpuMeter:
    """CPU seconds (user + system) spent by the service's main process, its children (parsing
    workers, the model's process), Postgres, Redis and this process while the clock runs: unlike a
    rate, these hardly change when another job shares the machine. Processes are sampled every half
    second, so a parsing worker that is replaced keeps the time it had at its last sample."""

    def __init__(self, service: psutil.Process, infra: Any) -> None:
        self.service = service
        self.infra = infra
        self.start: dict[tuple[str, int], float] = {}
        self.last: dict[tuple[str, int], float] = {}
        self.next_sample = 0.0
        self.bench_started = time.process_time()

    def _processes(self) -> list[tuple[str, psutil.Process]]:
        found = [("service", self.service)] + [(self._role(p), p) for p in self.service.children(recursive=True)]
        postgres, redis = getattr(self.infra, "postgres", None), getattr(self.infra, "redis", None)
        if postgres is not None:
            with contextlib.suppress(OSError, ValueError, psutil.Error):
                pid = int((postgres.pgdata / "postmaster.pid").read_text().split()[0])
                master = psutil.Process(pid)
                found += [("postgres", p) for p in [master, *master.children(recursive=True)]]
        if redis is not None and getattr(redis, "process", None) is not None:
            with contextlib.suppress(psutil.Error):
                found.append(("redis", psutil.Process(redis.process.pid)))
        return found

    @staticmethod
    def _role(child: psutil.Process) -> str:
        """Parsing workers run under an address-space cap; the model's process and the forkserver do not."""
        with contextlib.suppress(psutil.Error):
            if child.rlimit(psutil.RLIMIT_AS)[0] != psutil.RLIM_INFINITY:
                return "parsers"
            if child.num_threads() > 1:
                return "model"
        return "other children"

    def sample(self, *, first: bool = False) -> None:
        self.next_sample = time.monotonic() + 0.5  # walking every Postgres process is not free
        for role, p in self._processes():
            with contextlib.suppress(psutil.Error):
                times = p.cpu_times()
                key = (role, p.pid)
                self.last[key] = times.user + times.system
                if first:
                    self.start[key] = self.last[key]

    def per_role(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for (role, pid), seconds in self.last.items():
            out[role] = out.get(role, 0.0) + seconds - self.start.get((role, pid), 0.0)
        out["this benchmark"] = time.process_time() - self.bench_started
        return out


async def _ingest(
    infra: Any, uploads: Path, provider: str, documents: list[tuple[str, bytes]], chunk_size: int
) -> dict[str, Any]:
    redis = Redis.from_url(infra.redis_url)
    await redis.flushall()
    broker = make_broker(_settings(infra.app_url, infra.redis_url))
    await broker.connect()
    publisher = EventPublisher(broker, maxlen=1_000_000, service="bench")
    env = {
        "DATABASE_URL": infra.app_url,
        "REDIS_URL": infra.redis_url,
        "UPLOADS_DIR": str(uploads),
        "EMBEDDING_PROVIDER": provider,
        "LOG_LEVEL": "WARNING",
        "RECLAIM_IDLE_MS": "600000",
    }
    service = ServiceProcess("wafaa.ingestion", env, Path(tempfile.mkdtemp(prefix="bench-ingestion-logs-"))).start()
    service.wait_ready(120)
    proc = psutil.Process(service.pid)
    # Warm the embedder (the local model loads lazily) with one tiny document, outside the clock.
    tenant = uuid.uuid4()
    events = []
    for index, (content_type, data) in enumerate([("text/plain", b"warm up"), *documents]):
        doc = uuid.uuid4()
        folder = uploads / str(tenant) / str(doc)
        folder.mkdir(parents=True)
        (folder / "original").write_bytes(data)
        payload = DocumentUploadedPayload(
            document_id=doc,
            storage_path=f"{tenant}/{doc}/original",
            content_type=content_type,
            title=f"doc {index}",
            chunk_size=chunk_size,
            chunk_overlap=50,
        )
        events.append(DocumentUploaded(tenant_id=tenant, payload=payload))
    tree = ServiceTree(proc)
    await publisher.publish(events[0])
    await _wait_ready(redis, {events[0].payload.document_id}, tree, [0])
    expected = {e.payload.document_id for e in events[1:]}
    peak = [tree.rss()]
    cpu = CpuMeter(proc, infra)
    cpu.sample(first=True)
    await redis.config_resetstat()
    started = time.monotonic()
    publishing = asyncio.create_task(publisher.publish_many(events[1:]))
    outcomes = await _wait_ready(redis, expected, tree, peak, cpu)
    elapsed = time.monotonic() - started
    cpu.sample()
    commands = {k.removeprefix("cmdstat_"): v["calls"] for k, v in (await redis.info("commandstats")).items()}
    await publishing
    service.stop(30)
    await broker.stop()
    await redis.aclose()
    return {
        "elapsed": elapsed,
        "peak_rss": max(peak),
        "outcomes": outcomes,
        "tenant": tenant,
        "cpu": cpu.per_role(),
        "redis_calls": commands,
    }


async def _wait_ready(
    redis: Redis, expected: set[uuid.UUID], tree: ServiceTree, peak: list[int], cpu: CpuMeter | None = None
) -> dict[str, int]:
    done: dict[str, str] = {}
    chunks: dict[str, int] = {}
    last = "0-0"
    wanted = {str(d) for d in expected}
    next_sample = 0.0
    while wanted - done.keys():
        if time.monotonic() >= next_sample:  # every 20 ms, not every read
            peak.append(tree.rss())
            if cpu is not None and time.monotonic() >= cpu.next_sample:
                cpu.sample()
            next_sample = time.monotonic() + 0.02
        reply = await redis.xread({STATUS_STREAM: last}, count=1000, block=20)
        for _, entries in reply:
            for entry_id, fields in entries:
                last = entry_id
                for value in fields.values():
                    start = value.find(b'{"event_id"')
                    if start < 0:
                        continue
                    payload = json.loads(value[start:])["payload"]
                    if payload["status"] in ("ready", "failed") and payload["document_id"] in wanted:
                        done[payload["document_id"]] = payload["status"]
                        chunks[payload["document_id"]] = payload.get("chunk_count") or 0
    failed = [d for d, s in done.items() if s != "ready"]
    if failed:
        raise RuntimeError(f"{len(failed)} documents failed")
    return {"documents": len(done), "chunks": sum(chunks.values())}


def _settings(app_url: str, redis_url: str) -> Any:
    from wafaa.common.config import CommonSettings

    return CommonSettings(database_url=app_url, redis_url=redis_url)


async def _floor(admin_url: str, tenant: uuid.UUID, provider: str) -> tuple[int, float, float]:
    """Chunks embedded, wall seconds and CPU seconds of this process."""
    engine = create_async_engine(admin_url)
    async with engine.connect() as conn:
        rows = await conn.execute(
            text("SELECT text FROM ingestion.knowledge_chunks WHERE tenant_id = :t ORDER BY document_id, ordinal"),
            {"t": tenant},
        )
        texts = [r[0] for r in rows]
    await engine.dispose()
    embedder = make_embedder(EmbeddingSettings(embedding_provider=provider))  # type: ignore[arg-type]
    await embedder.embed(["warm up"])
    started, cpu_started = time.monotonic(), time.process_time()
    for start in range(0, len(texts), 64):
        await embedder.embed(texts[start : start + 64])
    return len(texts), time.monotonic() - started, time.process_time() - cpu_started


# --- Search at scale -------------------------------------------------------------------------------

MODEL = "bench"
LATENT_DIMS = 64
VOCABULARY = 5000
CHUNK_WORDS = 40


class Words:
    """Chunk texts and queries with natural text's word frequencies: Zipf's law (s = 1.07) over
    5,000 words, the menu words first (so a handful of words are in nearly every chunk, as "the" is)."""

    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)
        extra = [f"w{i}" for i in range(VOCABULARY - len(WORDS))]
        self.vocabulary = np.array(WORDS + extra)
        weights = 1.0 / np.arange(1, VOCABULARY + 1) ** 1.07
        self.p = weights / weights.sum()

    def texts(self, count: int, length: int = CHUNK_WORDS) -> list[str]:
        picks = self.rng.choice(VOCABULARY, size=(count, length), p=self.p)
        return [" ".join(self.vocabulary[row]) for row in picks]


class Vectors:
    """Unit vectors with a low intrinsic dimension, as text embeddings have: a 64-dimensional latent
    point mapped into 512 dimensions, plus isotropic noise. (Uniformly random 512-dimensional vectors
    have no near neighbours at all: every vector is about as far from a query as any other, and no
    approximate index can find the exact top 10 among them; HNSW's recall on them is about 0.1.)"""

    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)
        self.basis = self.rng.standard_normal((LATENT_DIMS, 512)).astype(np.float32) / np.sqrt(512)

    def sample(self, count: int) -> np.ndarray:
        latent = self.rng.standard_normal((count, LATENT_DIMS)).astype(np.float32)
        noise = self.rng.standard_normal((count, 512)).astype(np.float32) * (0.3 * np.sqrt(LATENT_DIMS / 512))
        vectors = latent @ self.basis + noise
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors


async def _seed_search(
    admin_url: str, vectors: Vectors, words: Words, layout: list[tuple[uuid.UUID, int]]
) -> dict[uuid.UUID, tuple[list[uuid.UUID], np.ndarray]]:
    """COPY every tenant's chunks in; the ids and vectors of the tenants with more than 200 (for recall)."""
    import asyncpg
    from pgvector.asyncpg import register_vector

    conn = await asyncpg.connect(admin_url.replace("postgresql+asyncpg", "postgresql"))
    await register_vector(conn)
    columns = [
        "id",
        "tenant_id",
        "document_id",
        "ordinal",
        "text",
        "location",
        "embedding",
        "embedding_provider",
        "embedding_model",
        "title",
    ]
    kept: dict[uuid.UUID, tuple[list[uuid.UUID], np.ndarray]] = {}
    batch: list[tuple[Any, ...]] = []

    async def flush() -> None:
        await conn.copy_records_to_table("knowledge_chunks", schema_name="ingestion", records=batch, columns=columns)
        batch.clear()

    for tenant, count in layout:
        ids = [uuid.uuid4() for _ in range(count)]
        matrix = vectors.sample(count)
        texts = words.texts(count)
        document = uuid.uuid4()
        if count > 200:
            kept[tenant] = (ids, matrix)
        for i in range(count):
            batch.append((ids[i], tenant, document, i, texts[i], "{}", matrix[i], "hash", MODEL, "doc"))
            if len(batch) >= 20_000:
                await flush()
    if batch:
        await flush()
    await conn.execute("VACUUM ANALYZE ingestion.knowledge_chunks")
    await conn.close()
    return kept


async def _time_search(
    app_url: str,
    admin_url: str,
    tenants: list[uuid.UUID],
    ann: bool,
    queries: int,
    warmup: int,
    vectors: Vectors,
    words: Words,
    exact: dict[uuid.UUID, tuple[list[uuid.UUID], np.ndarray]],
) -> tuple[list[float], list[float], list[float]]:
    """Latencies of hybrid searches and of the floor (ms), and the dense top 10's recall against the exact top 10."""
    import asyncpg
    from pgvector.asyncpg import register_vector

    db = Database.from_settings(_settings(app_url, "redis://unused"))
    bare = await asyncpg.connect(admin_url.replace("postgresql+asyncpg", "postgresql"))
    await register_vector(bare)
    await bare.execute("SET hnsw.ef_search = 300")

    async def floor(tenant: uuid.UUID, vector: np.ndarray) -> None:
        # Literals, not parameters: a generic plan could not match the tenant's partial HNSW index.
        distance = "embedding::vector(512) <=> $1::vector(512)" if ann else "embedding <=> $1"
        model = f" AND embedding_model = '{MODEL}'" if ann else ""
        rows = await bare.fetch(
            f"SELECT id FROM ingestion.knowledge_chunks WHERE tenant_id = '{tenant}'{model} "
            f"ORDER BY {distance} LIMIT 10",
            vector,
        )
        assert len(rows) == 10, len(rows)

    async def hybrid(tenant: uuid.UUID, vector: np.ndarray, query: str) -> None:
        async with db.transaction(tenant) as session:
            hits = await search(session, tenant, vector.tolist(), query, top_k=10, embedding_model=MODEL)
        assert len(hits) == 10, len(hits)

    for n, query in enumerate(words.texts(warmup, length=5)):  # untimed: the pool, plans, index pages
        tenant = tenants[n % len(tenants)]
        [vector] = vectors.sample(1)
        await hybrid(tenant, vector, query)
        await floor(tenant, vector)
    timings: list[float] = []
    floors: list[float] = []
    recalls: list[float] = []
    for n, query in enumerate(words.texts(queries, length=5)):
        tenant = tenants[n % len(tenants)]
        [vector] = vectors.sample(1)
        sides = [
            (timings, functools.partial(hybrid, tenant, vector, query)),
            (floors, functools.partial(floor, tenant, vector)),
        ]
        for into, call in sides if n % 2 else sides[::-1]:  # alternate which goes first
            started = time.perf_counter()
            await call()
            into.append((time.perf_counter() - started) * 1000)
        if tenant in exact:
            ids, matrix = exact[tenant]
            truth = {ids[i] for i in np.argsort(-(matrix @ vector))[:10]}
            async with db.transaction(tenant) as session:
                dense = await search(
                    session, tenant, vector.tolist(), None, top_k=10, min_score=-1.0, embedding_model=MODEL
                )
            recalls.append(len({h.chunk_id for h in dense} & truth) / 10)
    await bare.close()
    await db.dispose()
    return timings, floors, recalls


# --- Main --------------------------------------------------------------------------------------------


async def _ingestion_rows(infra: Any, root: Path, args: argparse.Namespace) -> list[str]:
    pdf = generated_pdf(args.pages)
    scenarios = [
        (f"{args.pages}-page PDF ({len(pdf) // 1024} KB)", [("application/pdf", pdf)]),
        (f"{args.small} small TXT documents", [("text/plain", d) for d in small_documents(args.small)]),
    ]
    scenarios = [s for s, count in zip(scenarios, (args.pages, args.small), strict=True) if count > 0]
    lines = [
        "| Documents | Provider | Chunks | End to end chunks/s | Raw embedder chunks/s (floor) | Ratio "
        "| Peak RSS of the service |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for label, docs in scenarios:
        uploads = root / uuid.uuid4().hex
        uploads.mkdir()
        measured = await _ingest(infra, uploads, args.provider, docs, args.chunk_size)
        chunks = measured["outcomes"]["chunks"]
        floor_chunks, floor_seconds, floor_cpu = await _floor(infra.admin_url, measured["tenant"], args.provider)
        e2e = chunks / measured["elapsed"]
        floor = floor_chunks / floor_seconds
        lines.append(
            f"| {label} | `{args.provider}` | {chunks:,} | {e2e:,.0f} | {floor:,.0f} | {e2e / floor:.0%} | "
            f"{measured['peak_rss'] / 2**20:,.0f} MB |"
        )
        print(lines[-1], flush=True)
        if args.cpu:
            documents = measured["outcomes"]["documents"]
            parts = ", ".join(f"{role} {seconds * 1000 / documents:.1f}" for role, seconds in measured["cpu"].items())
            print(
                f"  CPU ms per document: {parts}; elapsed {measured['elapsed']:.1f} s; "
                f"floor: CPU ms per chunk {floor_cpu * 1000 / floor_chunks:.1f}, {floor_seconds:.1f} s",
                flush=True,
            )
            calls = sorted(measured["redis_calls"].items(), key=lambda kv: -kv[1])
            print("  Redis calls per document: " + ", ".join(f"{k} {v / documents:.2f}" for k, v in calls), flush=True)
    return lines


async def _search_rows(infra: Any, args: argparse.Namespace) -> list[str]:
    vectors = Vectors(seed=5)
    words = Words(seed=7)
    small = [uuid.uuid4() for _ in range(args.tenants)]
    mid, big = uuid.uuid4(), uuid.uuid4()
    mid_chunks = args.mid if args.mid is not None else args.ann_min_chunks - 1
    layout = [(t, 200) for t in small] + [(mid, mid_chunks), (big, args.big)]
    exact = await _seed_search(infra.admin_url, vectors, words, layout)
    settings = SearchIndexSettings(knowledge_ann_min_chunks=args.ann_min_chunks)
    started = time.monotonic()
    built = await maintain_indexes(infra.admin_url, settings)
    build_seconds = time.monotonic() - started
    print(f"built {sorted(built.build)} in {build_seconds:.0f} s", flush=True)
    lines = [
        "",
        f"Search, {args.tenants:,} tenants × 200 chunks + 1 tenant × {mid_chunks:,} + 1 tenant × {args.big:,} "
        f"chunks, top 10, hybrid. Tenants from {settings.knowledge_fts_min_chunks:,} chunks get their own full-text "
        f"index, from {args.ann_min_chunks:,} their own HNSW index: `wafaa-search-indexes` built them in "
        f"{build_seconds:.0f} s, while nothing else ran.",
        "",
        "| Tenant | Search | Queries | p50 ms | p95 ms | max ms | Floor p50 / p95 ms | p95 ÷ floor p95 "
        "| Dense recall@10 vs exact |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    verdicts = []
    for label, kind, tenants, ann, queries in (
        ("a small tenant (200 chunks), round robin", "exact", small, False, args.queries),
        (f"a mid tenant ({mid_chunks:,} chunks)", "exact, own full-text index", [mid], False, args.big_queries),
        (f"the big tenant ({args.big:,} chunks)", "HNSW (ef_search 300)", [big], True, args.big_queries),
    ):
        ms, floor, recalls = await _time_search(
            infra.app_url, infra.admin_url, tenants, ann, queries, args.warmup, vectors, words, exact
        )
        recall = f"{sum(recalls) / len(recalls):.3f}" if recalls else "1 (exact)"
        p95, floor_p95 = percentile(ms, 0.95), percentile(floor, 0.95)
        lines.append(
            f"| {label} | {kind} | {len(ms)} | {percentile(ms, 0.5):.1f} | {p95:.1f} | {max(ms):.1f} "
            f"| {percentile(floor, 0.5):.1f} / {floor_p95:.1f} | {p95 / floor_p95:.1f}× | {recall} |"
        )
        print(lines[-1], flush=True)
        verdicts.append(f"{label.split(' (')[0]} {'met' if p95 < 30 else 'not met'} ({p95:.1f} ms)")
    lines += ["", f"- Target search p95 under 30 ms on 2 cores: {'; '.join(verdicts)}."]
    return lines


async def run(args: argparse.Namespace) -> str:
    lines: list[str] = []
    for infra in provide_infrastructure():
        await migrate(infra.admin_url, infra.app_url)
        root = Path(tempfile.mkdtemp(prefix="bench-uploads-"))
        try:
            if args.part in ("all", "ingestion"):
                lines += await _ingestion_rows(infra, root, args)
            if args.part in ("all", "search"):
                lines += await _search_rows(infra, args)
        finally:
            shutil.rmtree(root, ignore_errors=True)
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--provider", default="local", choices=["local", "hash"])
    parser.add_argument("--pages", type=int, default=200, help="0: no PDF row")
    parser.add_argument("--small", type=int, default=1000, help="0: no small documents row")
    parser.add_argument("--chunk-size", type=int, default=400)
    parser.add_argument("--cpu", action="store_true", help="also print CPU ms per document, per process kind")
    parser.add_argument("--tenants", type=int, default=1000)
    parser.add_argument("--big", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--mid", type=int, help="chunks of the tenant under the index threshold (default: one less)")
    parser.add_argument("--big-queries", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=20, help="untimed queries before each row's timed ones")
    parser.add_argument("--ann-min-chunks", type=int, default=SearchIndexSettings().knowledge_ann_min_chunks)
    parser.add_argument("--part", choices=["all", "ingestion", "search"], default="all", help="all to publish")
    parser.add_argument("--no-write", action="store_true", help="print only; leave RESULTS.md alone")
    args = parser.parse_args(argv)
    table = asyncio.run(run(args))
    command = results.command("bench.ingestion", parser, args)
    packages = ("faststream", "redis", "pydantic", "pgvector")
    title = "Knowledge: ingestion and search"
    results.publish(
        "knowledge", title, command, __doc__, table, packages, write=not args.no_write and args.part == "all"
    )


if __name__ == "__main__":
    main()
