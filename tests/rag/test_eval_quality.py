"""Answer quality on the restaurant evaluation set, through /api/v1/chat, with the default local models."""

from __future__ import annotations

import json
import re
from collections import defaultdict
from pathlib import Path

import pytest
from redis.asyncio import Redis

from tests.conftest import ARTIFACTS
from tests.fixtures.gateway import create_tenant_with_owner, gateway_settings, headers_for, running_gateway
from tests.fixtures.infrastructure import Infrastructure
from tests.fixtures.ingestion import EVAL
from tests.fixtures.rag import eval_files, index_documents
from wafaa.common.messaging import EventPublisher

pytestmark = [pytest.mark.e2e, pytest.mark.integration, pytest.mark.slow]


def normalise(text: str) -> str:
    text = text.translate(str.maketrans("٠١٢٣٤٥٦٧٨٩", "0123456789")).lower()
    return re.sub(r"\s+", " ", text.replace(",", ""))


def contains(reply: str, expected: str) -> bool:
    reply, expected = normalise(reply), normalise(expected)
    if expected in reply:
        return True
    m = re.fullmatch(r"0?(\d{1,2}):(\d\d)", expected)  # 8:30 = 08:30
    return bool(m and f"{int(m.group(1)):02d}:{m.group(2)}" in reply)


async def test_local_answerer_on_the_eval_questions(
    infra: Infrastructure, start_service, publisher: EventPublisher, redis: Redis, tmp_path: Path
) -> None:
    uploads = tmp_path / "uploads"
    uploads.mkdir()
    start_service("ingestion", uploads_dir=uploads, reclaim_idle_ms=120_000)
    start_service("rag", reclaim_idle_ms=120_000)
    questions = [json.loads(line) for line in (EVAL / "questions.jsonl").read_text().splitlines() if line.strip()]
    async with running_gateway(gateway_settings(infra, chat_timeout_seconds=30)) as (app, client):
        owner = await create_tenant_with_owner(app)
        await index_documents(publisher, redis, uploads, owner.tenant_id, eval_files())
        headers = await headers_for(client, owner)
        table: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
        rows = []
        for q in questions:
            response = await client.post("/api/v1/chat", json={"message": q["question"]}, headers=headers)
            assert response.status_code == 200, response.text
            body = response.json()
            if q["answerable"]:
                ok = all(contains(body["reply"], s) for s in q["answer_must_contain"])
                category = q["category"]
            else:
                ok = body["fallback"] or body["handoff"]
                category = "unanswerable"
            table[(q["lang"], category)][0] += ok
            table[(q["lang"], category)][1] += 1
            rows.append({**q, "reply": body["reply"], "ok": ok})
    (ARTIFACTS / "rag-eval.jsonl").write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows))

    def rate(pred) -> float:  # type: ignore[no-untyped-def]
        ok = sum(v[0] for k, v in table.items() if pred(k))
        total = sum(v[1] for k, v in table.items() if pred(k))
        return ok / total if total else 1.0

    print("\nlang   category       correct")
    for (lang, category), (ok, total) in sorted(table.items()):
        print(f"{lang:6} {category:14} {ok}/{total}")
    english = rate(lambda k: k[0] == "en" and k[1] != "unanswerable")
    arabic = rate(lambda k: k[0] == "ar" and k[1] != "unanswerable")
    unanswerable = rate(lambda k: k[1] == "unanswerable")
    print(f"answerable en {english:.0%}  ar {arabic:.0%}  unanswerable fallback {unanswerable:.0%}")
    assert english >= 0.80 and arabic >= 0.70 and unanswerable >= 0.90
