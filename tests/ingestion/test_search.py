"""Search: exact per-tenant top-k at scale, never another tenant's chunk, and retrieval quality."""

from __future__ import annotations

import json
import random
import uuid
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.fixtures.ingestion import CONTENT_TYPES, EVAL
from wafaa.common.db import Database
from wafaa.common.knowledge import search, vector_literal
from wafaa.common.providers import Embedder, HashEmbedder, LocalUSEEmbedder
from wafaa.ingestion.chunking.service import chunk_elements
from wafaa.ingestion.chunks.repository import ChunkRepository
from wafaa.ingestion.extraction.parsers import parse
from wafaa.ingestion.extraction.schemas import ExtractionLimits

pytestmark = [pytest.mark.integration]

DIMS = 16


async def _bulk_insert(
    admin_engine: AsyncEngine, rows: list[tuple[uuid.UUID, uuid.UUID, uuid.UUID, int, str, str]]
) -> None:
    async with admin_engine.connect() as conn:
        raw = await conn.get_raw_connection()
        pg = raw.driver_connection
        assert pg is not None
        async with pg.transaction():
            await pg.execute(
                "CREATE TEMP TABLE staged (id uuid, tenant_id uuid, document_id uuid, ordinal int, text text, emb text)"
                " ON COMMIT DROP"
            )
            await pg.copy_records_to_table("staged", records=rows)
            await pg.execute(
                "INSERT INTO ingestion.knowledge_chunks (id, tenant_id, document_id, ordinal, text, location, "
                "embedding, embedding_provider, embedding_model) "
                "SELECT id, tenant_id, document_id, ordinal, text, '{}'::jsonb, emb::vector, 'test', 'random-16' "
                "FROM staged"
            )


@pytest.mark.slow
async def test_every_tenant_gets_its_exact_top10_next_to_a_huge_tenant_and_nothing_of_others(
    admin_engine: AsyncEngine, app_engine: AsyncEngine
) -> None:
    rng = np.random.default_rng(7)
    small = [uuid.uuid4() for _ in range(1000)]
    huge = uuid.uuid4()
    layout = [(t, 200) for t in small] + [(huge, 100_000)]
    vectors: dict[uuid.UUID, tuple[list[uuid.UUID], np.ndarray]] = {}
    rows = []
    for tenant, count in layout:
        doc = uuid.uuid4()
        matrix = rng.standard_normal((count, DIMS)).astype(np.float32)
        ids = [uuid.uuid4() for _ in range(count)]
        vectors[tenant] = (ids, matrix)
        rows.extend(
            (cid, tenant, doc, i, f"chunk {i}", vector_literal(v.tolist()))
            for i, (cid, v) in enumerate(zip(ids, matrix, strict=True))
        )
    await _bulk_insert(admin_engine, rows)
    del rows
    db = Database(app_engine)
    try:
        for tenant in [*random.Random(3).sample(small, 50), huge]:
            ids, matrix = vectors[tenant]
            query = rng.standard_normal(DIMS).astype(np.float32)
            sims = (matrix @ query) / (np.linalg.norm(matrix, axis=1) * np.linalg.norm(query))
            exact = {ids[i] for i in np.argsort(-sims)[:10]}
            async with db.transaction(tenant) as session:
                hits = await search(session, tenant, query.tolist(), None, top_k=10, min_score=-1.0)
            assert len(hits) == 10
            assert {h.chunk_id for h in hits} == exact
    finally:
        async with admin_engine.begin() as conn:
            await conn.execute(text("DELETE FROM ingestion.knowledge_chunks WHERE embedding_model = 'random-16'"))


async def _index_eval_set(app_engine: AsyncEngine, tenant: uuid.UUID, embedder: Embedder) -> dict[uuid.UUID, str]:
    db = Database(app_engine)
    documents = {}
    async with db.transaction(tenant) as session:
        for path in sorted(EVAL.iterdir()):
            if path.suffix not in CONTENT_TYPES or path.name == "questions.jsonl" or path.name == "README.md":
                continue
            extracted = parse(path.read_bytes(), CONTENT_TYPES[path.suffix], ExtractionLimits())
            chunks = chunk_elements(extracted.elements, 400, 50)
            vectors = await embedder.embed([c.text for c in chunks])
            doc = uuid.uuid4()
            documents[doc] = path.name
            await ChunkRepository(session, tenant).replace_document(
                doc,
                [
                    {
                        "ordinal": i,
                        "text": c.text,
                        "location": c.location,
                        "embedding": v,
                        "title": path.name,
                        "embedding_provider": embedder.name,
                        "embedding_model": embedder.model,
                    }
                    for i, (c, v) in enumerate(zip(chunks, vectors, strict=True))
                ],
            )
    return documents


def _score(ranked_sources: list[list[str]], expected: list[list[str]]) -> tuple[float, float, float]:
    hit1 = hit5 = rr = 0.0
    for sources, wanted in zip(ranked_sources, expected, strict=True):
        rank = next((i for i, s in enumerate(sources) if s in wanted), None)
        hit1 += rank == 0
        hit5 += rank is not None and rank < 5
        rr += 0 if rank is None else 1 / (rank + 1)
    n = max(len(expected), 1)
    return hit1 / n, hit5 / n, rr / n


@pytest.mark.slow
async def test_retrieval_quality_on_the_restaurant_questions(app_engine: AsyncEngine) -> None:
    questions = [json.loads(line) for line in (EVAL / "questions.jsonl").read_text().splitlines() if line.strip()]
    answerable = [q for q in questions if q["answerable"]]
    db = Database(app_engine)
    table: dict[tuple[str, str], tuple[float, float, float]] = {}
    configs: list[tuple[str, Embedder, bool]] = [
        ("hash dense", HashEmbedder(), False),
        ("hash hybrid", HashEmbedder(), True),
        ("local dense", LocalUSEEmbedder(), False),
        ("local hybrid", LocalUSEEmbedder(), True),
    ]
    indexed: dict[str, tuple[uuid.UUID, dict[uuid.UUID, str]]] = {}
    for label, embedder, hybrid in configs:
        if embedder.name not in indexed:
            tenant = uuid.uuid4()
            indexed[embedder.name] = (tenant, await _index_eval_set(app_engine, tenant, embedder))
        tenant, documents = indexed[embedder.name]
        vectors = await embedder.embed([q["question"] for q in answerable])
        ranked = []
        async with db.transaction(tenant) as session:
            for q, vector in zip(answerable, vectors, strict=True):
                hits = await search(session, tenant, vector, q["question"] if hybrid else None, top_k=5, min_score=-1.0)
                ranked.append([documents[h.document_id] for h in hits])
        for lang in ("en", "ar", "mixed", "all"):
            picked = [i for i, q in enumerate(answerable) if lang in ("all", q["lang"])]
            table[(label, lang)] = _score(
                [ranked[i] for i in picked], [answerable[i]["expected_sources"] for i in picked]
            )

    lines = ["config        lang    hit@1  hit@5  MRR"]
    lines += [f"{label:13s} {lang:6s} {h1:6.2f} {h5:6.2f} {mrr:5.2f}" for (label, lang), (h1, h5, mrr) in table.items()]
    print("\n" + "\n".join(lines))
    Path(__file__).resolve().parents[2].joinpath("test-artifacts").mkdir(exist_ok=True)
    Path(__file__).resolve().parents[2].joinpath("test-artifacts", "retrieval-quality.txt").write_text(
        "\n".join(lines) + "\n"
    )
    assert table[("local hybrid", "all")][1] >= 0.90
