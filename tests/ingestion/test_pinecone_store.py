"""VECTOR_DB_PROVIDER=pinecone against a fake of Pinecone's data plane: real ingestion, real Postgres.

A document's vectors live in its tenant's namespace and nowhere else; search fuses them with
Postgres full text exactly as pgvector does; replacing or deleting a document leaves no stale vector;
expired chunks and other tenants' chunks never come back; a 429 is retried; a failed upsert rolls the
document back; and the client only ever talks to the index host.
"""

from __future__ import annotations

import json
import socket
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from pinecone.errors import ServiceError
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.fixtures.fake_pinecone import API_KEY, DATA_PLANE, FakePinecone
from tests.fixtures.ingestion import CONTENT_TYPES, EVAL, place_upload, status_events, uploaded
from tests.fixtures.waiting import eventually
from wafaa.common.db import Database
from wafaa.common.events import (
    DocumentDeleted,
    DocumentDeletedPayload,
    DocumentReprocessRequested,
    DocumentStatusChanged,
)
from wafaa.common.knowledge import (
    ChunkVector,
    KnowledgeHit,
    PgVectorStore,
    PineconeStore,
    VectorStore,
    VectorStoreSettings,
    make_vector_store,
    search,
)
from wafaa.common.messaging import EventPublisher
from wafaa.common.providers import HashEmbedder
from wafaa.ingestion.chunks.service import Indexer, index_document
from wafaa.ingestion.extraction.schemas import ExtractionLimits

pytestmark = [pytest.mark.integration]

EMBEDDER = HashEmbedder()
MARINA = (
    "Parking at the Dubai Marina branch is free valet parking for guests.\n\n"
    "The Marina terrace opens at 8:30 on weekends and serves shakshuka until noon.\n\n"
    "Private dining at the Marina seats twenty people and needs a deposit."
)
KHALIDIYA = (
    "Parking at the Al Khalidiya branch costs 20 dirhams an hour in the mall garage.\n\n"
    "The Khalidiya kitchen closes at midnight; delivery stops at 11:30 pm.\n\n"
    "Birthday cakes at Khalidiya are ordered two days ahead."
)


@pytest_asyncio.fixture
async def pinecone(fake_pinecone: FakePinecone) -> AsyncIterator[PineconeStore]:
    store = PineconeStore(fake_pinecone.host, API_KEY)
    yield store
    await store.aclose()


@pytest.fixture
def uploads(tmp_path: Path) -> Path:
    folder = tmp_path / "uploads"
    folder.mkdir()
    return folder


async def _no_status(_: DocumentStatusChanged) -> None:
    return None


def _indexer(uploads: Path, store: VectorStore) -> Indexer:
    return Indexer(embedder=EMBEDDER, publish=_no_status, uploads_dir=uploads, limits=ExtractionLimits(), store=store)


async def _index(
    db: Database,
    indexer: Indexer,
    tenant: uuid.UUID,
    document: uuid.UUID,
    content: str | Path,
    **fields: Any,
) -> int:
    """Index one document the way the handler does: one tenant transaction around `index_document`."""
    data = content if isinstance(content, Path) else content.encode()
    path = place_upload(indexer.uploads_dir, tenant, document, data)
    content_type = CONTENT_TYPES[content.suffix] if isinstance(content, Path) else "text/plain"
    event = uploaded(tenant, document, path, content_type, **fields)
    async with db.transaction(tenant) as session:
        return await index_document(session, indexer, event)


async def _search(
    db: Database,
    tenant: uuid.UUID,
    question: str | None,
    vector: list[float] | None,
    store: VectorStore | None,
    **kw: Any,
) -> list[KnowledgeHit]:
    async with db.transaction(tenant) as session:
        return await search(
            session, tenant, vector, question, embedding_model=EMBEDDER.model, store=store, **{"min_score": -1.0, **kw}
        )


async def _rows(engine: AsyncEngine, document: uuid.UUID) -> list[dict[str, Any]]:
    """A document's chunk rows (admin role): id, ordinal, whether the row holds a vector."""
    async with engine.connect() as conn:
        result = await conn.execute(
            text(
                "SELECT id, ordinal, embedding IS NOT NULL AS has_vector FROM ingestion.knowledge_chunks "
                "WHERE document_id = :d ORDER BY ordinal"
            ),
            {"d": document},
        )
        return [dict(r) for r in result.mappings()]


def _vectors_of(fake: FakePinecone, tenant: uuid.UUID, document: uuid.UUID) -> dict[str, str]:
    """Vector id → chunk id of one document's vectors in the tenant's namespace."""
    stored = fake.vectors(str(tenant))
    return {vid: s.metadata["chunk_id"] for vid, s in stored.items() if vid.startswith(f"{document}#")}


def _expected_vectors(document: uuid.UUID, rows: list[dict[str, Any]]) -> dict[str, str]:
    return {f"{document}#{r['ordinal']}": str(r["id"]) for r in rows}


async def _ready(redis: Redis, document: uuid.UUID, generation: int) -> dict[str, Any] | None:
    for event in reversed(await status_events(redis, document)):
        payload = event["payload"]
        if payload["generation"] == generation and payload["status"] in ("ready", "failed"):
            return payload
    return None


async def _indexed_rows(
    redis: Redis, engine: AsyncEngine, document: uuid.UUID, generation: int
) -> list[dict[str, Any]]:
    """The rows of one indexing of a document, once committed (`ready` is published just before the commit)."""
    status = await eventually(lambda: _ready(redis, document, generation), lambda s: s is not None, timeout=60)
    assert status["status"] == "ready", status
    return await eventually(lambda: _rows(engine, document), lambda rows: len(rows) == status["chunk_count"])


@pytest.mark.e2e
async def test_ingestion_service_keeps_a_documents_vectors_in_its_tenant_namespace_through_reprocess_and_delete(
    start_service,
    publisher: EventPublisher,
    redis: Redis,
    admin_engine: AsyncEngine,
    app_engine: AsyncEngine,
    uploads: Path,
    fake_pinecone: FakePinecone,
    pinecone: PineconeStore,
) -> None:
    start_service(
        "ingestion",
        uploads_dir=uploads,
        embedding_provider="hash",
        vector_db_provider="pinecone",
        pinecone_index_host=fake_pinecone.host,
        pinecone_api_key=API_KEY,
        # were the client ever to fall back to the control plane, it would land here and be seen
        pinecone_controller_host=fake_pinecone.host,
        reclaim_idle_ms=120_000,
    )
    tenant, doc = uuid.uuid4(), uuid.uuid4()
    path = place_upload(uploads, tenant, doc, EVAL / "policies.txt")
    await publisher.publish(uploaded(tenant, doc, path, "text/plain", title="policies.txt"))
    rows = await _indexed_rows(redis, admin_engine, doc, 0)
    assert len(rows) > 1
    assert not any(r["has_vector"] for r in rows)  # Postgres keeps text and tsvector, Pinecone the vectors
    assert _vectors_of(fake_pinecone, tenant, doc) == _expected_vectors(doc, rows)
    assert set(fake_pinecone.namespaces) == {str(tenant)}

    db = Database(app_engine)
    question = "how many days do I have to ask for a refund"
    by_meaning = await _search(db, tenant, None, EMBEDDER.embed_one(question), pinecone, top_k=5)
    by_words = await _search(db, tenant, "refund", None, pinecone, top_k=5)
    assert by_meaning and all(h.document_id == doc and h.similarity is not None for h in by_meaning)
    assert by_words and all("refund" in h.text.lower() and h.text_rank is not None for h in by_words)

    again = uploaded(tenant, doc, path, "text/plain", title="policies.txt", chunk_size=150, generation=1)
    await publisher.publish(DocumentReprocessRequested(tenant_id=tenant, payload=again.payload))
    new_rows = await _indexed_rows(redis, admin_engine, doc, 1)
    assert len(new_rows) > len(rows)
    assert _vectors_of(fake_pinecone, tenant, doc) == _expected_vectors(doc, new_rows)

    shorter = uploaded(tenant, doc, path, "text/plain", title="policies.txt", chunk_size=1200, generation=2)
    await publisher.publish(DocumentReprocessRequested(tenant_id=tenant, payload=shorter.payload))
    last_rows = await _indexed_rows(redis, admin_engine, doc, 2)
    assert len(last_rows) < len(rows)
    # no stale ids of the longer versions are left behind
    assert _vectors_of(fake_pinecone, tenant, doc) == _expected_vectors(doc, last_rows)

    await publisher.publish(DocumentDeleted(tenant_id=tenant, payload=DocumentDeletedPayload(document_id=doc)))
    await eventually(lambda: _rows(admin_engine, doc), lambda r: r == [])
    assert _vectors_of(fake_pinecone, tenant, doc) == {}
    assert await _search(db, tenant, "refund", EMBEDDER.embed_one(question), pinecone) == []

    assert {r.path for r in fake_pinecone.requests} <= DATA_PLANE
    assert all(r.headers.get("api-key") == API_KEY and r.status == 200 for r in fake_pinecone.requests)


async def test_two_tenants_never_see_each_others_chunks_even_through_a_misfiled_vector(
    app_engine: AsyncEngine, uploads: Path, fake_pinecone: FakePinecone, pinecone: PineconeStore
) -> None:
    db = Database(app_engine)
    indexer = _indexer(uploads, pinecone)
    marina, khalidiya = uuid.uuid4(), uuid.uuid4()
    doc_m, doc_k = uuid.uuid4(), uuid.uuid4()
    await _index(db, indexer, marina, doc_m, MARINA, chunk_size=80)
    await _index(db, indexer, khalidiya, doc_k, KHALIDIYA, chunk_size=80)
    assert {vid.split("#")[0] for vid in fake_pinecone.ids(str(marina))} == {str(doc_m)}
    assert {vid.split("#")[0] for vid in fake_pinecone.ids(str(khalidiya))} == {str(doc_k)}

    question = "where do I park and how much does parking cost"
    for tenant, own in ((marina, doc_m), (khalidiya, doc_k)):
        hits = await _search(db, tenant, question, EMBEDDER.embed_one(question), pinecone, top_k=10)
        assert hits and {h.document_id for h in hits} == {own}
        assert hits[0].text.startswith("Parking") and hits[0].similarity is not None and hits[0].text_rank

    # A vector filed under the wrong namespace, pointing at another tenant's chunk, is still never returned.
    async with db.transaction(khalidiya) as session:
        [k_hit] = await search(session, khalidiya, None, "cakes", top_k=1)
    cake = EMBEDDER.embed_one(k_hit.text)
    await pinecone.upsert(marina, uuid.uuid4(), [ChunkVector(k_hit.chunk_id, 0, cake, EMBEDDER.model)])
    hits = await _search(db, marina, "birthday cakes ordered", cake, pinecone, top_k=10)
    assert k_hit.chunk_id not in {h.chunk_id for h in hits}
    assert all(h.document_id == doc_m for h in hits)


async def test_expired_chunks_are_never_returned_whether_the_index_or_postgres_knows_it(
    admin_engine: AsyncEngine, app_engine: AsyncEngine, uploads: Path, pinecone: PineconeStore
) -> None:
    db = Database(app_engine)
    indexer = _indexer(uploads, pinecone)
    tenant, ramadan, live = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    past = datetime.now(UTC) - timedelta(days=1)
    await _index(db, indexer, tenant, ramadan, "Ramadan iftar buffet at the Marina costs 180 dirhams.", valid_to=past)
    await _index(db, indexer, tenant, live, "The iftar buffet returns next Ramadan at the Marina branch.")
    question = "Ramadan iftar buffet at the Marina costs 180 dirhams."
    vector = EMBEDDER.embed_one(question)

    hits = await _search(db, tenant, question, vector, pinecone)
    assert {h.document_id for h in hits} == {live}

    # valid_to moved in Postgres only (the index still has the vector as unexpired): still never returned
    async with admin_engine.begin() as conn:
        await conn.execute(
            text("UPDATE ingestion.knowledge_chunks SET valid_to = now() - interval '1 minute' WHERE document_id = :d"),
            {"d": live},
        )
    assert await _search(db, tenant, question, vector, pinecone) == []


async def test_a_429_from_pinecone_is_retried_and_the_document_is_indexed_and_found(
    admin_engine: AsyncEngine,
    app_engine: AsyncEngine,
    uploads: Path,
    fake_pinecone: FakePinecone,
    pinecone: PineconeStore,
) -> None:
    db = Database(app_engine)
    tenant, doc = uuid.uuid4(), uuid.uuid4()
    fake_pinecone.script("/vectors/upsert", 429)
    fake_pinecone.script("/query", 429)
    assert await _index(db, _indexer(uploads, pinecone), tenant, doc, MARINA, chunk_size=80) == 3

    assert [r.status for r in fake_pinecone.calls("/vectors/upsert")] == [429, 200]
    assert _vectors_of(fake_pinecone, tenant, doc) == _expected_vectors(doc, await _rows(admin_engine, doc))
    question = "is there valet parking at the marina"
    hits = await _search(db, tenant, question, EMBEDDER.embed_one(question), pinecone)
    assert [r.status for r in fake_pinecone.calls("/query")] == [429, 200]
    assert hits[0].document_id == doc and hits[0].text.startswith("Parking")


async def test_an_upsert_that_keeps_failing_rolls_the_document_back_and_its_orphan_vectors_stay_invisible(
    admin_engine: AsyncEngine,
    app_engine: AsyncEngine,
    uploads: Path,
    fake_pinecone: FakePinecone,
    pinecone: PineconeStore,
) -> None:
    db = Database(app_engine)
    indexer = _indexer(uploads, pinecone)
    tenant, doc = uuid.uuid4(), uuid.uuid4()
    dishes = "\n\n".join(f"Dish {i}: grilled halloumi plate number {i} with zaatar." for i in range(150))
    # the first batch of 100 lands, the second fails on every attempt the client makes
    fake_pinecone.script("/vectors/upsert", None, 503, 503, 503, 503)
    with pytest.raises(ServiceError):
        await _index(db, indexer, tenant, doc, dishes, chunk_size=60)

    assert await _rows(admin_engine, doc) == []
    orphans = _vectors_of(fake_pinecone, tenant, doc)
    assert len(orphans) == 100
    question = "Dish 7: grilled halloumi plate number 7 with zaatar."
    assert await _search(db, tenant, question, EMBEDDER.embed_one(question), pinecone) == []

    # the event is delivered again: the document appears whole, the orphans replaced
    count = await _index(db, indexer, tenant, doc, dishes, chunk_size=60)
    rows = await _rows(admin_engine, doc)
    assert count == len(rows) > 100
    assert _vectors_of(fake_pinecone, tenant, doc) == _expected_vectors(doc, rows)
    [upserts] = [[len(r.body["vectors"]) for r in fake_pinecone.calls("/vectors/upsert") if r.status == 200][-2:]]
    assert max(upserts) <= 100
    hits = await _search(db, tenant, question, EMBEDDER.embed_one(question), pinecone, top_k=1)
    assert hits[0].text.startswith("Dish 7:")


class _DenseFromRows(PgVectorStore):
    """pgvector's dense candidates, handed to search as if they came from an external store."""

    vectors_in_rows = False


async def test_fusion_of_external_dense_candidates_ranks_exactly_as_the_single_pgvector_statement(
    app_engine: AsyncEngine, uploads: Path
) -> None:
    db = Database(app_engine)
    indexer = _indexer(uploads, PgVectorStore())
    tenant = uuid.uuid4()
    for name in ("policies.txt", "faq_ar.txt", "branches.csv", "specials.json"):
        await _index(db, indexer, tenant, uuid.uuid4(), EVAL / name, title=name)
    questions = [json.loads(line)["question"] for line in (EVAL / "questions.jsonl").read_text().splitlines()[:25]]

    compared = 0
    for question in questions:
        vector = EMBEDDER.embed_one(question)
        for words in (question, None):
            kw = {"top_k": 8, "min_score": 0.05}
            one_statement = await _search(db, tenant, words, vector, None, **kw)
            fused = await _search(db, tenant, words, vector, _DenseFromRows(), **kw)
            assert [(h.chunk_id, h.similarity, h.text_rank) for h in fused] == [
                (h.chunk_id, h.similarity, h.text_rank) for h in one_statement
            ], question
            assert [h.score for h in fused] == pytest.approx([h.score for h in one_statement], abs=1e-12)
            compared += len(fused)
    assert compared > 200


async def test_the_client_only_ever_connects_to_the_index_host(
    monkeypatch: pytest.MonkeyPatch, fake_pinecone: FakePinecone
) -> None:
    connected: list[Any] = []
    resolved: list[str] = []
    real_connect, real_getaddrinfo = socket.socket.connect, socket.getaddrinfo

    def connect(sock: socket.socket, address: Any) -> None:
        connected.append(address)
        if not (isinstance(address, tuple) and address[0] in ("127.0.0.1", "::1")):
            raise OSError(f"the test allows no connection to {address!r}")
        real_connect(sock, address)

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        resolved.append(host)
        if host not in ("127.0.0.1", "::1", "localhost"):
            raise OSError(f"the test allows no lookup of {host!r}")
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    settings = VectorStoreSettings(
        vector_db_provider="pinecone", pinecone_index_host=fake_pinecone.host, pinecone_api_key=API_KEY
    )
    store = make_vector_store(settings)
    assert isinstance(store, PineconeStore)
    tenant, doc = uuid.uuid4(), uuid.uuid4()
    vectors = [ChunkVector(uuid.uuid4(), i, EMBEDDER.embed_one(f"chunk {i}"), EMBEDDER.model) for i in range(3)]
    await store.upsert(tenant, doc, vectors)
    assert len(await store.query(None, tenant, vectors[0].values, top_k=3)) == 3
    await store.delete_document(tenant, doc)
    await store.aclose()

    assert connected and set(connected) == {("127.0.0.1", fake_pinecone.port)}
    assert set(resolved) <= {"127.0.0.1", "localhost"}
    assert [r.path for r in fake_pinecone.requests] == ["/vectors/upsert", "/query", "/vectors/list", "/vectors/delete"]
    assert all(r.status == 200 for r in fake_pinecone.requests)
    assert fake_pinecone.ids(str(tenant)) == set()


def test_pinecone_settings_need_the_index_host_and_a_key() -> None:
    with pytest.raises(ValueError, match="PINECONE_INDEX_HOST"):
        VectorStoreSettings(vector_db_provider="pinecone", pinecone_api_key="key")
    with pytest.raises(ValueError, match="PINECONE_API_KEY"):
        VectorStoreSettings(vector_db_provider="pinecone", pinecone_index_host="https://idx.svc.pinecone.io")
    assert isinstance(make_vector_store(VectorStoreSettings()), PgVectorStore)
