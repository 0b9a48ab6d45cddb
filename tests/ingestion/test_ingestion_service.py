"""The ingestion service as a process: real files become ready chunks, hostile files fail, it stays up."""

from __future__ import annotations

import io
import uuid
import zipfile
from pathlib import Path

import pytest
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.fixtures.ingestion import (
    CONTENT_TYPES,
    EVAL,
    chunk_rows,
    final_status,
    place_upload,
    status_events,
    uploaded,
)
from tests.fixtures.waiting import eventually
from wafaa.common.events import DocumentDeleted, DocumentDeletedPayload, DocumentReprocessRequested
from wafaa.common.messaging import EventPublisher

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

# A slow document must not be reclaimed by the fast test reclaimer while it is still being indexed.
ENV = {"embedding_provider": "hash", "reclaim_idle_ms": 120_000, "extraction_timeout_seconds": 20}


@pytest.fixture
def uploads(tmp_path: Path) -> Path:
    folder = tmp_path / "uploads"
    folder.mkdir()
    return folder


async def test_each_eval_document_becomes_ready_with_citation_locations_and_delete_removes_rows(
    start_service, publisher: EventPublisher, redis: Redis, admin_engine: AsyncEngine, uploads: Path
) -> None:
    start_service("ingestion", uploads_dir=uploads, **ENV)
    tenant = uuid.uuid4()
    docs: dict[str, uuid.UUID] = {}
    for name in ("menu.pdf", "faq.docx", "faq_ar.txt", "policies.txt", "branches.csv", "specials.json"):
        doc = uuid.uuid4()
        docs[name] = doc
        path = place_upload(uploads, tenant, doc, EVAL / name)
        await publisher.publish(uploaded(tenant, doc, path, CONTENT_TYPES[Path(name).suffix], title=name))

    for name, doc in docs.items():
        status = await eventually(lambda d=doc: final_status(redis, d), lambda s: s is not None, timeout=60)
        assert status["status"] == "ready", (name, status)
        assert status["chunk_count"] > 0 and status["duration_ms"] is not None
        statuses = [e["payload"]["status"] for e in await status_events(redis, doc)]
        assert statuses[0] == "processing" and statuses[-1] == "ready"
        # published just before the chunks' transaction commits: the rows follow within moments
        await eventually(
            lambda d=doc: chunk_rows(admin_engine, d),
            lambda r, n=status["chunk_count"]: len(r) == n,
        )

    menu = await chunk_rows(admin_engine, docs["menu.pdf"])
    assert (await final_status(redis, docs["menu.pdf"]))["page_count"] == 3
    assert {r["location"]["page"] for r in menu} == {1, 2, 3}
    assert any("COLD MEZZE" in r["location"].get("section", "") and "Hummus" in r["text"] for r in menu)
    assert all(r["embedding_provider"] == "hash" and r["tenant_id"] == tenant for r in menu)

    faq = await chunk_rows(admin_engine, docs["faq.docx"])
    assert any(r["location"].get("section", "").startswith("Opening Hours > Q1.") for r in faq)

    branches = await chunk_rows(admin_engine, docs["branches.csv"])
    assert [r["location"]["row"] for r in branches] == [1, 2, 3]
    assert all(r["text"].startswith("name: Bayt Al Zaatar") and "has_outdoor_seating:" in r["text"] for r in branches)

    arabic = await chunk_rows(admin_engine, docs["faq_ar.txt"])
    assert any(r["location"].get("section", "").startswith("س1:") for r in arabic)

    specials = await chunk_rows(admin_engine, docs["specials.json"])
    assert any("loyalty_program" in r["text"] and ": " in r["text"] for r in specials)

    policies = await chunk_rows(admin_engine, docs["policies.txt"])
    assert any(r["location"].get("section") == "1. SCOPE" for r in policies)

    await publisher.publish(
        DocumentDeleted(tenant_id=tenant, payload=DocumentDeletedPayload(document_id=docs["menu.pdf"]))
    )
    await eventually(lambda: chunk_rows(admin_engine, docs["menu.pdf"]), lambda rows: rows == [])
    assert await chunk_rows(admin_engine, docs["faq.docx"]) == faq


def _zip_bomb() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", b"\0" * (300 * 2**20))
    return buffer.getvalue()


def _encrypted_pdf() -> bytes:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(EVAL / "menu.pdf"))
    writer.encrypt(user_password="secret", owner_password="owner")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def hostile_files() -> dict[str, tuple[bytes, str, str]]:
    """name → (bytes, declared content type, expected outcome: `failed` or `ready`)."""
    menu = (EVAL / "menu.pdf").read_bytes()
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40
    return {
        "empty": (b"", "text/plain", "failed"),
        "png renamed .pdf": (png, "application/pdf", "failed"),
        "truncated pdf": (menu[: len(menu) // 3], "application/pdf", "failed"),
        "encrypted pdf": (_encrypted_pdf(), "application/pdf", "failed"),
        "docx zip bomb": (_zip_bomb(), CONTENT_TYPES[".docx"], "failed"),
        "json 10,000 deep": (b"[" * 10_000 + b"]" * 10_000, "application/json", "failed"),
        "binary in txt": (b"hello\x00\x01\x02" + bytes(range(256)) * 100, "text/plain", "failed"),
        "5 MB single line": (b"word " * (1024 * 1024), "text/plain", "ready"),
        "latin-1 csv": ("name,city\nCaf\xe9 Z\xe9n,Duba\xef\n".encode("latin-1"), "text/csv", "ready"),
        "path traversal": (b"", "text/plain", "failed"),
    }


async def test_hostile_files_end_failed_with_a_reason_or_ready_and_the_service_stays_up(
    start_service, publisher: EventPublisher, redis: Redis, admin_engine: AsyncEngine, uploads: Path
) -> None:
    start_service("ingestion", uploads_dir=uploads, **ENV)
    tenant = uuid.uuid4()
    expected: dict[uuid.UUID, tuple[str, str]] = {}
    for name, (data, content_type, outcome) in hostile_files().items():
        doc = uuid.uuid4()
        path = "../../etc/passwd" if name == "path traversal" else place_upload(uploads, tenant, doc, data)
        expected[doc] = (name, outcome)
        await publisher.publish(uploaded(tenant, doc, path, content_type, title=name))

    for doc, (name, outcome) in expected.items():
        status = await eventually(lambda d=doc: final_status(redis, d), lambda s: s is not None, timeout=120)
        assert status["status"] == outcome, (name, status)
        if outcome == "failed":
            assert status["reason"], name
            assert await chunk_rows(admin_engine, doc) == [], name
    reasons = {
        expected[uuid.UUID(e["payload"]["document_id"])][0]: e["payload"]["reason"] for e in await status_events(redis)
    }
    assert "password" in reasons["encrypted pdf"]
    assert "zip bomb" in reasons["docx zip bomb"] or "expands" in reasons["docx zip bomb"]
    assert "nested" in reasons["json 10,000 deep"]
    assert "outside" in reasons["path traversal"]
    latin = next(d for d, (n, _) in expected.items() if n == "latin-1 csv")
    assert "Café Zén" in (await chunk_rows(admin_engine, latin))[0]["text"]

    # still consuming after all of that
    good = uuid.uuid4()
    path = place_upload(uploads, tenant, good, EVAL / "branches.csv")
    await publisher.publish(uploaded(tenant, good, path, "text/csv"))
    status = await eventually(lambda: final_status(redis, good), lambda s: s is not None, timeout=30)
    assert status["status"] == "ready"


async def test_reprocess_with_a_new_chunk_size_rechunks_the_document(
    start_service, publisher: EventPublisher, redis: Redis, admin_engine: AsyncEngine, uploads: Path
) -> None:
    start_service("ingestion", uploads_dir=uploads, **ENV)
    tenant, doc = uuid.uuid4(), uuid.uuid4()
    path = place_upload(uploads, tenant, doc, EVAL / "policies.txt")
    first = uploaded(tenant, doc, path, "text/plain", chunk_size=400, chunk_overlap=50)
    await publisher.publish(first)
    ready = await eventually(lambda: final_status(redis, doc), lambda s: s is not None and s["status"] == "ready")
    # `ready` goes out just before the chunks' transaction commits (so a crash never loses it): wait for them
    before = await eventually(lambda: chunk_rows(admin_engine, doc), lambda r: len(r) == ready["chunk_count"])

    await redis.delete("wafaa.document.status_changed")
    again = DocumentReprocessRequested(
        tenant_id=tenant, payload=first.payload.model_copy(update={"chunk_size": 1200, "chunk_overlap": 100})
    )
    await publisher.publish(again)
    status = await eventually(lambda: final_status(redis, doc), lambda s: s is not None, timeout=30)
    assert status["status"] == "ready"
    after = await eventually(lambda: chunk_rows(admin_engine, doc), lambda r: len(r) == status["chunk_count"])
    assert len(after) == status["chunk_count"] < len(before)
    assert max(len(r["text"]) for r in after) > 400
    assert [r["ordinal"] for r in after] == list(range(len(after)))
