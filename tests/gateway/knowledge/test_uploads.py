"""Uploading through the API: types by content, limits, safe names, roles, tenants, status events."""

from __future__ import annotations

import io
import uuid
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.fixtures.gateway import add_user, audit_rows, create_tenant_with_owner, headers_for
from tests.fixtures.knowledge import KNOWLEDGE, document, upload
from tests.fixtures.streams import stream_events
from tests.fixtures.waiting import eventually
from tests.gateway.conftest import Gateway
from wafaa.common.events import DocumentStatusChanged, DocumentStatusChangedPayload
from wafaa.common.messaging import EventPublisher
from wafaa.gateway.knowledge.files import CONTENT_TYPES

pytestmark = pytest.mark.integration

MB = 2**20
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def docx_bytes() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<w:document><w:body><w:p>Hello</w:p></w:body></w:document>")
    return buffer.getvalue()


SAMPLES: dict[str, tuple[bytes, str]] = {
    "menu.pdf": (PDF, "pdf"),
    "faq.docx": (docx_bytes(), "docx"),
    "notes.txt": (b"Opening hours: 9 to 5.\nWe love guests.\n", "txt"),
    "guide.md": (b"# Guide\n\n## Parking\n\n- Free valet\n- Street parking\n", "md"),
    "branches.csv": (b"name,city\nJumeirah,Dubai\nKhalidiya,Abu Dhabi\n", "csv"),
    "specials.json": (b'{"offers": [{"name": "Iftar", "price": 120}]}', "json"),
}


async def owner_headers(kb: Gateway) -> tuple[Any, dict[str, str]]:
    owner = await create_tenant_with_owner(kb.app)
    return owner, await headers_for(kb.client, owner)


def multipart(parts: list[tuple[bytes, bytes]]) -> tuple[bytes, str]:
    """A hand-made multipart body, so file names can hold bytes no client library would send."""
    boundary = "wafaa-test-boundary"
    body = b""
    for filename, data in parts:
        body += f"--{boundary}\r\n".encode()
        body += b'Content-Disposition: form-data; name="files"; filename="' + filename + b'"\r\n'
        body += b"Content-Type: application/octet-stream\r\n\r\n" + data + b"\r\n"
    body += f"--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


async def test_upload_detects_each_type_by_content_and_queues_it_with_the_tenants_chunk_settings(
    kb: Gateway, redis: Redis, uploads: Path, admin_engine: AsyncEngine
) -> None:
    owner, headers = await owner_headers(kb)
    patch = {"retrieval": {"chunk_size": 500, "chunk_overlap": 60}}
    assert (await kb.client.patch("/api/v1/tenants/me/settings", json=patch, headers=headers)).status_code == 200
    # Names lie on purpose: the type comes from the bytes.
    files = [(f"upload{i}.bin", data) for i, (data, _) in enumerate(SAMPLES.values())]
    response = await upload(kb.client, headers, files, metadata={"tags": ["menu"], "language": "en"})
    assert response.status_code == 202, response.text
    docs = response.json()
    assert [d["file_type"] for d in docs] == [kind for _, kind in SAMPLES.values()]
    assert {d["status"] for d in docs} == {"queued"}
    for doc, (data, _) in zip(docs, SAMPLES.values(), strict=True):
        stored = uploads / str(owner.tenant_id) / doc["id"] / "original"
        assert stored.read_bytes() == data
        assert doc["tags"] == ["menu"] and doc["language"] == "en"
        assert (doc["chunk_size"], doc["chunk_overlap"]) == (500, 60)
    events = await stream_events(redis, "wafaa.document.uploaded")
    assert [e["payload"]["document_id"] for e in events] == [d["id"] for d in docs]
    first = events[0]
    assert first["tenant_id"] == str(owner.tenant_id)
    assert first["payload"]["storage_path"] == f"{owner.tenant_id}/{docs[0]['id']}/original"
    assert (first["payload"]["chunk_size"], first["payload"]["chunk_overlap"]) == (500, 60)
    assert first["payload"]["content_type"] == "application/pdf"
    rows = await audit_rows(admin_engine, owner.tenant_id, "knowledge.document_uploaded")
    assert sorted(r["resource_id"] for r in rows) == sorted(d["id"] for d in docs)
    assert not list((uploads / ".incoming").iterdir())


async def test_metadata_can_be_given_per_file(kb: Gateway) -> None:
    _, headers = await owner_headers(kb)
    meta = [
        {"title": "Ramadan menu", "valid_from": "2027-02-17T00:00:00+04:00", "valid_to": "2027-03-19T00:00:00+04:00"},
        {"title": "FAQ", "tags": ["faq", "faq", " hours "]},
    ]
    response = await upload(kb.client, headers, [("a.txt", b"iftar"), ("b.txt", b"hours")], metadata=meta)
    assert response.status_code == 202, response.text
    first, second = response.json()
    assert first["title"] == "Ramadan menu"
    assert datetime.fromisoformat(first["valid_to"]) == datetime(2027, 3, 18, 20, tzinfo=UTC)
    assert second["tags"] == ["faq", "hours"]
    bad = await upload(
        kb.client,
        headers,
        [("a.txt", b"x")],
        metadata={"valid_from": "2027-03-01T00:00:00Z", "valid_to": "2027-02-01T00:00:00Z"},
    )
    assert bad.status_code == 422 and bad.json()["code"] == "invalid_metadata"


@pytest.mark.parametrize(
    ("name", "data", "status", "code"),
    [
        ("empty.txt", b"", 422, "empty_file"),
        ("blank.txt", b"   \n\n  ", 422, "empty_file"),
        ("image.pdf", b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8, 415, "unsupported_type"),
        ("archive.docx", b"PK\x03\x04" + b"\x00" * 200, 415, "unsupported_type"),
        ("binary.txt", b"hello\x00\x01\x02world" * 50, 415, "unsupported_type"),
    ],
)
async def test_hostile_files_are_refused_and_nothing_is_stored(
    kb: Gateway, uploads: Path, name: str, data: bytes, status: int, code: str
) -> None:
    owner, headers = await owner_headers(kb)
    response = await upload(kb.client, headers, [(name, data)])
    assert (response.status_code, response.json()["code"]) == (status, code)
    assert not (uploads / str(owner.tenant_id)).exists()
    assert (await kb.client.get(KNOWLEDGE, headers=headers)).json()["items"] == []


async def test_a_pdf_renamed_to_txt_is_stored_as_a_pdf(kb: Gateway) -> None:
    _, headers = await owner_headers(kb)
    response = await upload(kb.client, headers, [("menu.txt", PDF)])
    assert response.status_code == 202
    assert response.json()[0]["file_type"] == "pdf" and response.json()[0]["content_type"] == "application/pdf"


async def test_json_nested_ten_thousand_deep_is_accepted_for_ingestion_to_fail_with_a_reason(kb: Gateway) -> None:
    _, headers = await owner_headers(kb)
    response = await upload(kb.client, headers, [("deep.json", b"[" * 10_000 + b"]" * 10_000)])
    assert response.status_code == 202
    assert response.json()[0]["file_type"] == "json"


async def test_over_limit_file_answers_413_and_nothing_is_stored(kb: Gateway, uploads: Path) -> None:
    owner, headers = await owner_headers(kb)
    response = await upload(kb.client, headers, [("ok.txt", b"fine"), ("big.txt", b"a" * (MB + 1))])
    assert response.status_code == 413 and response.json()["code"] == "file_too_large"
    assert not (uploads / str(owner.tenant_id)).exists()
    assert not list((uploads / ".incoming").iterdir())


async def test_a_request_body_over_the_limit_answers_413_before_it_is_read(kb: Gateway) -> None:
    _, headers = await owner_headers(kb)
    body, content_type = multipart([(b"huge.txt", b"a" * (7 * MB + 10))])
    response = await kb.client.post(KNOWLEDGE, content=body, headers={**headers, "Content-Type": content_type})
    assert response.status_code == 413 and response.json()["code"] == "too_large"


async def test_too_many_files_answers_413(kb: Gateway) -> None:
    _, headers = await owner_headers(kb)
    response = await upload(kb.client, headers, [(f"{i}.txt", b"x") for i in range(7)])
    assert response.status_code == 413 and response.json()["code"] == "too_many_files"


async def test_tenant_storage_quota_answers_409_with_a_clear_message(kb: Gateway) -> None:
    _, headers = await owner_headers(kb)
    for _ in range(3):
        assert (await upload(kb.client, headers, [("part.txt", b"a " * (MB // 2 - 100))])).status_code == 202
    response = await upload(kb.client, headers, [("more.txt", b"a " * (MB // 2 - 100))])
    assert response.status_code == 409
    assert response.json()["code"] == "storage_quota_exceeded" and "limit of 3 MB" in response.json()["message"]


async def test_path_traversal_and_nul_file_names_are_stored_under_generated_names(
    kb: Gateway, uploads: Path, tmp_path: Path
) -> None:
    owner, headers = await owner_headers(kb)
    names = [b"../../../../etc/passwd", b"..\\..\\boot.ini", b"evil\x00.txt", b"/abs/olute.md"]
    body, content_type = multipart([(name, b"some text " + str(i).encode()) for i, name in enumerate(names)])
    response = await kb.client.post(KNOWLEDGE, content=body, headers={**headers, "Content-Type": content_type})
    assert response.status_code == 202, response.text
    stored = [d["original_filename"] for d in response.json()]
    assert stored == ["passwd", "boot.ini", "evil.txt", "olute.md"]
    for doc in response.json():
        assert (uploads / str(owner.tenant_id) / doc["id"] / "original").is_file()
        assert doc["title"] and "/" not in doc["original_filename"] and "\x00" not in doc["original_filename"]
    assert sorted(p.name for p in uploads.iterdir()) == [".incoming", str(owner.tenant_id)]
    assert not (tmp_path / "etc").exists()
    download = await kb.client.get(f"{KNOWLEDGE}/{response.json()[2]['id']}/download", headers=headers)
    assert download.status_code == 200 and download.content == b"some text 2"
    assert download.headers["content-disposition"] == "attachment; filename=\"evil.txt\"; filename*=UTF-8''evil.txt"


async def test_download_answers_the_original_bytes_with_the_original_name(kb: Gateway) -> None:
    _, headers = await owner_headers(kb)
    doc = (await upload(kb.client, headers, [("قائمة الطعام.md", "# قائمة\n\nحمص".encode())])).json()[0]
    response = await kb.client.get(f"{KNOWLEDGE}/{doc['id']}/download", headers=headers)
    assert response.status_code == 200 and response.content == "# قائمة\n\nحمص".encode()
    assert response.headers["content-type"].startswith("text/markdown")
    assert "filename*=UTF-8''%D9%82" in response.headers["content-disposition"]


async def test_list_filters_by_status_type_tag_and_text_with_cursor_pages(kb: Gateway, redis: Redis) -> None:
    _, headers = await owner_headers(kb)
    await upload(kb.client, headers, [("menu.txt", b"hummus")], metadata={"tags": ["menu"]})
    await upload(kb.client, headers, [("faq.md", b"# FAQ\n\n## Q1\n\n- a\n- b\n")], metadata={"title": "Guest FAQ"})
    await upload(kb.client, headers, [("branches.csv", b"a,b\n1,2\n3,4\n")])

    async def titles(**params: Any) -> list[str]:
        page = (await kb.client.get(KNOWLEDGE, params=params, headers=headers)).json()
        return [d["title"] for d in page["items"]]

    assert await titles() == ["branches", "Guest FAQ", "menu"]
    assert await titles(type="md") == ["Guest FAQ"]
    assert await titles(tag="menu") == ["menu"]
    assert await titles(text="faq") == ["Guest FAQ"]
    assert await titles(text="%") == []
    assert await titles(status="queued") == ["branches", "Guest FAQ", "menu"]
    assert await titles(status="ready") == []
    first = (await kb.client.get(KNOWLEDGE, params={"limit": 2}, headers=headers)).json()
    assert len(first["items"]) == 2 and first["next_cursor"]
    second = (
        await kb.client.get(KNOWLEDGE, params={"limit": 2, "cursor": first["next_cursor"]}, headers=headers)
    ).json()
    assert [d["title"] for d in second["items"]] == ["menu"] and second["next_cursor"] is None
    bad = await kb.client.get(KNOWLEDGE, params={"cursor": "nonsense"}, headers=headers)
    assert bad.status_code == 422 and bad.json()["code"] == "invalid_cursor"


async def test_status_events_move_the_document_and_stale_ones_are_ignored(
    kb: Gateway, publisher: EventPublisher, admin_engine: AsyncEngine
) -> None:
    owner, headers = await owner_headers(kb)
    doc_id = (await upload(kb.client, headers, [("a.txt", b"text")])).json()[0]["id"]
    published = 0

    async def status(**fields: Any) -> None:
        nonlocal published
        payload = DocumentStatusChangedPayload(document_id=uuid.UUID(doc_id), **fields)
        await publisher.publish(DocumentStatusChanged(tenant_id=owner.tenant_id, payload=payload))
        published += 1

    async def consumed() -> dict[str, Any]:
        """The document once the gateway has consumed every event published so far (ignored ones too)."""

        async def count() -> int:
            async with admin_engine.connect() as conn:
                sql = "SELECT count(*) FROM gateway.processed_events WHERE tenant_id = :t"
                return int(await conn.scalar(text(sql), {"t": owner.tenant_id}) or 0)

        await eventually(count, lambda n: n >= published, timeout=10)
        return await document(kb.client, headers, doc_id)

    await status(status="processing", progress=0.4, generation=1)
    assert ((await consumed())["status"], (await consumed())["progress"]) == ("processing", 0.4)
    await status(status="processing", progress=0.2, generation=1)  # out of order: progress never goes back
    assert (await consumed())["progress"] == 0.4
    await status(status="ready", progress=1.0, page_count=2, chunk_count=7, duration_ms=120, generation=1)
    ready = await consumed()
    assert (ready["status"], ready["page_count"], ready["chunk_count"], ready["duration_ms"]) == ("ready", 2, 7, 120)
    assert ready["processed_at"] and ready["processing_started_at"] and ready["progress"] == 1.0
    # A late progress update of the same generation, and one of a generation that is not the document's.
    await status(status="processing", progress=0.6, generation=1)
    await status(status="failed", reason="another upload", progress=1.0, generation=5)
    still = await consumed()
    assert (still["status"], still["progress"], still["error_reason"]) == ("ready", 1.0, None)

    reprocess = await kb.client.post(f"{KNOWLEDGE}/{doc_id}/reprocess", headers=headers)
    assert reprocess.status_code == 202
    assert (reprocess.json()["generation"], reprocess.json()["status"]) == (2, "queued")
    await status(status="ready", progress=1.0, chunk_count=1, generation=1)  # the previous generation finishing late
    assert (await consumed())["status"] == "queued"
    await status(status="failed", progress=1.0, reason="the file has no text to index", generation=2)
    failed = await consumed()
    assert (failed["status"], failed["error_reason"], failed["chunk_count"]) == (
        "failed",
        "the file has no text to index",
        0,
    )


async def test_agents_are_refused_every_knowledge_endpoint(kb: Gateway) -> None:
    owner, headers = await owner_headers(kb)
    doc_id = (await upload(kb.client, headers, [("a.txt", b"text")])).json()[0]["id"]
    agent = await add_user(kb.app, owner.tenant_id, "agent")
    admin = await add_user(kb.app, owner.tenant_id, "admin")
    agent_headers = await headers_for(kb.client, agent)
    admin_headers = await headers_for(kb.client, admin)
    calls = [
        ("GET", KNOWLEDGE, None),
        ("GET", f"{KNOWLEDGE}/{doc_id}", None),
        ("GET", f"{KNOWLEDGE}/{doc_id}/chunks", None),
        ("GET", f"{KNOWLEDGE}/{doc_id}/download", None),
        ("POST", f"{KNOWLEDGE}/search", {"query": "hours"}),
        ("POST", f"{KNOWLEDGE}/{doc_id}/reprocess", None),
        ("DELETE", f"{KNOWLEDGE}/{doc_id}", None),
    ]
    for method, path, body in calls:
        response = await kb.client.request(method, path, json=body, headers=agent_headers)
        assert (response.status_code, response.json()["code"]) == (403, "forbidden"), (method, path)
    assert (await upload(kb.client, agent_headers, [("b.txt", b"x")])).status_code == 403
    assert (await kb.client.get(KNOWLEDGE)).status_code == 401
    for method, path, body in calls:
        response = await kb.client.request(method, path, json=body, headers=admin_headers)
        assert response.status_code in (200, 202, 204), (method, path, response.text)
    assert (await upload(kb.client, admin_headers, [("b.txt", b"x")])).status_code == 202


async def test_another_tenants_document_answers_404_like_a_missing_one(kb: Gateway, uploads: Path) -> None:
    a, a_headers = await owner_headers(kb)
    b, b_headers = await owner_headers(kb)
    b_doc = (await upload(kb.client, b_headers, [("secret.txt", b"B's secret recipe")])).json()[0]["id"]
    for doc_id in (b_doc, str(uuid.uuid4())):
        for method, suffix in [
            ("GET", ""),
            ("GET", "/chunks"),
            ("GET", "/download"),
            ("POST", "/reprocess"),
            ("DELETE", ""),
        ]:
            response = await kb.client.request(method, f"{KNOWLEDGE}/{doc_id}{suffix}", headers=a_headers)
            assert (response.status_code, response.json()) == (
                404,
                {"code": "not_found", "message": "Document not found."},
            ), (method, suffix)
    assert (await kb.client.get(KNOWLEDGE, headers=a_headers)).json()["items"] == []
    assert (await document(kb.client, b_headers, b_doc))["status"] == "queued"
    assert (uploads / str(b.tenant_id) / b_doc / "original").is_file()
    assert not (uploads / str(a.tenant_id)).exists()


async def test_delete_removes_the_file_and_row_and_publishes_document_deleted(
    kb: Gateway, uploads: Path, redis: Redis, admin_engine: AsyncEngine
) -> None:
    owner, headers = await owner_headers(kb)
    doc_id = (await upload(kb.client, headers, [("a.txt", b"text")])).json()[0]["id"]
    assert (await kb.client.delete(f"{KNOWLEDGE}/{doc_id}", headers=headers)).status_code == 204
    assert not (uploads / str(owner.tenant_id) / doc_id).exists()
    assert (await kb.client.get(f"{KNOWLEDGE}/{doc_id}", headers=headers)).status_code == 404
    async with admin_engine.connect() as conn:
        count = await conn.scalar(text("SELECT count(*) FROM gateway.knowledge_documents WHERE id = :d"), {"d": doc_id})
    assert count == 0
    events = await stream_events(redis, "wafaa.document.deleted")
    assert [(e["tenant_id"], e["payload"]["document_id"]) for e in events] == [(str(owner.tenant_id), doc_id)]


async def test_download_documents_every_content_type_it_answers_with(kb: Gateway) -> None:
    _, headers = await owner_headers(kb)
    doc = (await upload(kb.client, headers, [("menu.txt", b"Hummus 28 AED")])).json()[0]
    response = await kb.client.get(f"{KNOWLEDGE}/{doc['id']}/download", headers=headers)
    documented = kb.app.openapi()["paths"][f"{KNOWLEDGE}/{{document_id}}/download"]["get"]["responses"]["200"]
    assert set(documented["content"]) == set(CONTENT_TYPES.values())
    assert response.headers["content-type"].split(";")[0] in documented["content"]


async def test_upload_and_search_appear_in_the_openapi_document(kb: Gateway) -> None:
    spec = kb.app.openapi()
    assert {"post", "get"} <= set(spec["paths"][KNOWLEDGE])
    upload_body = spec["paths"][KNOWLEDGE]["post"]["requestBody"]["content"]
    assert "multipart/form-data" in upload_body
    assert spec["paths"][f"{KNOWLEDGE}/search"]["post"]["responses"]["200"]["content"]["application/json"]["schema"]
    for path in ("/{document_id}", "/{document_id}/chunks", "/{document_id}/download", "/{document_id}/reprocess"):
        assert KNOWLEDGE + path in spec["paths"]
