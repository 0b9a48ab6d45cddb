"""Knowledge benchmark: ingestion chunks/s end to end next to the raw embedder, and search latency at scale.

Ingestion: the ingestion service runs as a process (as in production) on an embedded Postgres and
Redis; `DocumentUploaded` events are published as the gateway publishes them, and the clock runs from
the first publish to the last `ready` status event. The floor is the same embedder, in this process,
embedding the very chunk texts the service stored (no extraction, chunking, events or inserts).
Peak memory is the highest summed RSS of the service and its parsing child, sampled every 20 ms.

Search: 1,000 tenants with 200 chunks each plus one tenant with 100,000 chunks, random unit vectors
(512 dimensions, as the local and hash embedders) and random words; the timed call is
`wafaa.common.knowledge.search` (what `POST /knowledge/search` and the bot run) inside a tenant
transaction, top 10, hybrid (vector + words).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
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
from tests.fixtures.infrastructure import provide_infrastructure
from tests.fixtures.processes import ServiceProcess
from wafaa.common.db import Database
from wafaa.common.db.migrate import migrate
from wafaa.common.events import DocumentUploaded, DocumentUploadedPayload
from wafaa.common.knowledge import search
from wafaa.common.messaging import EventPublisher
from wafaa.common.providers import EmbeddingSettings, make_embedder
from wafaa.common.runtime.worker import make_broker

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
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, obj in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + obj + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def small_documents(count: int, seed: int = 11) -> list[bytes]:
    """Short FAQ-like text files of one or two chunks each."""
    rng = random.Random(seed)
    docs = []
    for n in range(count):
        answer = " ".join(rng.choice(WORDS) for _ in range(rng.randint(25, 45)))
        docs.append(f"Q{n}: Do you have {rng.choice(WORDS)}?\n\n{answer.capitalize()}.\n".encode())
    return docs


# --- Ingestion run -------------------------------------------------------------------------------


def _rss_tree(proc: psutil.Process) -> int:
    total = 0
    for p in [proc, *proc.children(recursive=True)]:
        with contextlib.suppress(psutil.Error):
            total += p.memory_info().rss
    return total


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
    await publisher.publish(events[0])
    await _wait_ready(redis, {events[0].payload.document_id}, proc, [0])
    expected = {e.payload.document_id for e in events[1:]}
    peak = [_rss_tree(proc)]
    started = time.monotonic()
    publishing = asyncio.create_task(publisher.publish_many(events[1:]))
    outcomes = await _wait_ready(redis, expected, proc, peak)
    elapsed = time.monotonic() - started
    await publishing
    service.stop(30)
    await broker.stop()
    await redis.aclose()
    return {"elapsed": elapsed, "peak_rss": max(peak), "outcomes": outcomes, "tenant": tenant}


async def _wait_ready(redis: Redis, expected: set[uuid.UUID], proc: psutil.Process, peak: list[int]) -> dict[str, int]:
    done: dict[str, str] = {}
    chunks: dict[str, int] = {}
    last = "0-0"
    wanted = {str(d) for d in expected}
    while wanted - done.keys():
        peak.append(_rss_tree(proc))
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


async def _floor(admin_url: str, tenant: uuid.UUID, provider: str) -> tuple[int, float]:
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
    started = time.monotonic()
    for start in range(0, len(texts), 64):
        await embedder.embed(texts[start : start + 64])
    return len(texts), time.monotonic() - started


# --- Search at scale -------------------------------------------------------------------------------


async def _seed_search(admin_url: str, small: int, per_small: int, big: int) -> tuple[list[uuid.UUID], uuid.UUID]:
    import asyncpg
    from pgvector.asyncpg import register_vector

    rng = np.random.default_rng(5)
    tenants = [uuid.uuid4() for _ in range(small)]
    big_tenant = uuid.uuid4()
    conn = await asyncpg.connect(admin_url.replace("postgresql+asyncpg", "postgresql"))
    await register_vector(conn)
    words = np.array(WORDS)

    def rows(tenant: uuid.UUID, count: int) -> list[tuple[Any, ...]]:
        vectors = rng.standard_normal((count, 512)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        picks = rng.integers(0, len(words), (count, 12))
        document = uuid.uuid4()
        return [
            (
                uuid.uuid4(),
                tenant,
                document,
                i,
                " ".join(words[picks[i]]),
                "{}",
                vectors[i],
                "hash",
                "bench",
                "doc",
            )
            for i in range(count)
        ]

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
    batch: list[tuple[Any, ...]] = []
    for tenant in tenants:
        batch.extend(rows(tenant, per_small))
        if len(batch) >= 20_000:
            await conn.copy_records_to_table(
                "knowledge_chunks", schema_name="ingestion", records=_text_records(batch), columns=columns
            )
            batch = []
    for _ in range(0, big, 20_000):
        batch.extend(rows(big_tenant, min(20_000, big)))
        await conn.copy_records_to_table(
            "knowledge_chunks", schema_name="ingestion", records=_text_records(batch), columns=columns
        )
        batch = []
    if batch:
        await conn.copy_records_to_table(
            "knowledge_chunks", schema_name="ingestion", records=_text_records(batch), columns=columns
        )
    await conn.execute("ANALYZE ingestion.knowledge_chunks")
    await conn.close()
    return tenants, big_tenant


def _text_records(batch: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    return batch


async def _time_search(app_url: str, tenants: list[uuid.UUID], queries: int) -> list[float]:
    db = Database.from_settings(_settings(app_url, "redis://unused"))
    rng = np.random.default_rng(9)
    timings = []
    for n in range(queries):
        tenant = tenants[n % len(tenants)]
        vector = rng.standard_normal(512)
        vector /= np.linalg.norm(vector)
        query = " ".join(WORDS[i] for i in rng.integers(0, len(WORDS), 4))
        started = time.perf_counter()
        async with db.transaction(tenant) as session:
            hits = await search(session, tenant, vector.tolist(), query, top_k=10)
        timings.append((time.perf_counter() - started) * 1000)
        assert len(hits) == 10, len(hits)
    await db.dispose()
    return timings


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


# --- Main --------------------------------------------------------------------------------------------


async def run(args: argparse.Namespace) -> str:
    lines = []
    for infra in provide_infrastructure():
        await migrate(infra.admin_url, infra.app_url)
        root = Path(tempfile.mkdtemp(prefix="bench-uploads-"))
        try:
            pdf = generated_pdf(args.pages)
            scenarios = [
                (f"{args.pages}-page PDF ({len(pdf) // 1024} KB)", [("application/pdf", pdf)]),
                (f"{args.small} small TXT documents", [("text/plain", d) for d in small_documents(args.small)]),
            ]
            lines.append(
                "| Documents | Provider | Chunks | End to end chunks/s | Raw embedder chunks/s (floor) | Ratio "
                "| Peak RSS of the service |"
            )
            lines.append("|---|---|---:|---:|---:|---:|---:|")
            for label, docs in scenarios:
                uploads = root / uuid.uuid4().hex
                uploads.mkdir()
                measured = await _ingest(infra, uploads, args.provider, docs, args.chunk_size)
                chunks = measured["outcomes"]["chunks"]
                floor_chunks, floor_seconds = await _floor(infra.admin_url, measured["tenant"], args.provider)
                e2e = chunks / measured["elapsed"]
                floor = floor_chunks / floor_seconds
                lines.append(
                    f"| {label} | `{args.provider}` | {chunks:,} | {e2e:,.0f} | {floor:,.0f} | {e2e / floor:.0%} | "
                    f"{measured['peak_rss'] / 2**20:,.0f} MB |"
                )
                print(lines[-1], flush=True)
            tenants, big = await _seed_search(infra.admin_url, args.tenants, 200, args.big)
            small_ms = await _time_search(infra.app_url, tenants, args.queries)
            big_ms = await _time_search(infra.app_url, [big], args.big_queries)
            lines.append("")
            lines.append(
                f"Search, {args.tenants:,} tenants × 200 chunks + 1 tenant × {args.big:,} chunks, top 10, hybrid:"
            )
            lines.append("")
            lines.append("| Tenant | Queries | p50 ms | p95 ms | max ms |")
            lines.append("|---|---:|---:|---:|---:|")
            for label, ms in (
                ("a small tenant (200 chunks), round robin", small_ms),
                (f"the big tenant ({args.big:,} chunks)", big_ms),
            ):
                lines.append(f"| {label} | {len(ms)} | {_pct(ms, 0.5):.1f} | {_pct(ms, 0.95):.1f} | {max(ms):.1f} |")
                print(lines[-1], flush=True)
        finally:
            shutil.rmtree(root, ignore_errors=True)
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--provider", default="local", choices=["local", "hash"])
    parser.add_argument("--pages", type=int, default=200)
    parser.add_argument("--small", type=int, default=1000)
    parser.add_argument("--chunk-size", type=int, default=400)
    parser.add_argument("--tenants", type=int, default=1000)
    parser.add_argument("--big", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--big-queries", type=int, default=20)
    parser.add_argument("--no-write", action="store_true", help="print only; leave RESULTS.md alone")
    args = parser.parse_args(argv)
    table = asyncio.run(run(args))
    command = results.command("bench.ingestion", parser, args)
    packages = ("faststream", "redis", "pydantic", "pgvector")
    title = "Knowledge: ingestion and search"
    results.publish("knowledge", title, command, __doc__, table, packages, write=not args.no_write)


if __name__ == "__main__":
    main()
