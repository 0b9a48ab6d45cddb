"""The admin dashboard in headless Chromium against the real services, started as processes.

Builds the dashboard if needed, starts the gateway (serving the build), ingestion, rag and
channels, seeds a tenant with a WhatsApp channel, then runs `dashboard/e2e/dashboard.e2e.mjs`
(playwright-core driving Debian's chromium). Screenshots go to test-artifacts/screenshots/; the
initial JavaScript size and the overview's time to interactive go to bench/RESULTS.md.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import time
import uuid
from pathlib import Path

import httpx
import pytest

from bench.results import machine, update
from tests.conftest import ARTIFACTS, ROOT, SHARED
from tests.fixtures.fake_graph import FakeGraphApi
from tests.fixtures.waiting import eventually
from wafaa.gateway.config import DEV_PLATFORM_API_KEY
from wafaa.gateway.webhooks.signature import sign

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

DASHBOARD = ROOT / "dashboard"
DIST = DASHBOARD / "dist"
CHROMIUM = Path("/usr/bin/chromium")
MENU = SHARED / "eval" / "restaurant" / "menu.pdf"
PAYLOADS = SHARED / "reference" / "meta-payloads"
CUSTOMER = "971500000777"
JS_BUDGET_GZIP = 300 * 1024
TTI_BUDGET_MS = 1000


def _build_dashboard() -> None:
    if (DIST / "index.html").is_file():
        return
    npm = shutil.which("npm")
    if npm is None:
        pytest.skip("Node/npm not installed: the dashboard cannot be built")
    if not (DASHBOARD / "node_modules").is_dir():
        subprocess.run([npm, "ci", "--no-fund", "--no-audit"], cwd=DASHBOARD, check=True)
    subprocess.run([npm, "run", "build"], cwd=DASHBOARD, check=True)


def _webhook(phone_number_id: str, app_secret: str, text: str) -> dict[str, str]:
    body = json.loads((PAYLOADS / "wa_text.json").read_text())
    value = body["entry"][0]["changes"][0]["value"]
    value["metadata"]["phone_number_id"] = phone_number_id
    message = {"id": f"wamid.{uuid.uuid4().hex}", "from": CUSTOMER, "text": {"body": text}}
    value["messages"][0].update(message | {"timestamp": str(int(time.time()))})  # inside the reply window
    value["contacts"][0]["wa_id"] = CUSTOMER
    raw = json.dumps(body)
    return {"body": raw, "signature": sign(raw.encode(), app_secret), "customer": CUSTOMER, "text": text}


def _seed(base: str) -> dict[str, str]:
    """A tenant, its owner and a WhatsApp channel, through the running gateway's API."""
    email, password = f"owner-{uuid.uuid4().hex[:8]}@e2e.test", "correct horse battery"
    with httpx.Client(base_url=base, timeout=30) as client:
        created = client.post(
            "/api/v1/platform/tenants",
            json={"name": "Dashboard Bistro", "owner_email": email, "owner_password": password},
            headers={"X-Platform-Key": DEV_PLATFORM_API_KEY},
        )
        assert created.status_code == 201, created.text
        token = client.post("/api/v1/auth/login", json={"email": email, "password": password}).json()["access_token"]
        number, secret = str(uuid.uuid4().int)[:15], "e2e-app-secret-0001"
        channel = client.post(
            "/api/v1/channels",
            json={"platform": "whatsapp", "phone_number_id": number, "access_token": "EAAG-e2e-token-0001",
                  "app_secret": secret, "name": "Bistro WhatsApp"},
            headers={"Authorization": f"Bearer {token}"},
        )  # fmt: skip
        assert channel.status_code == 201, channel.text
        # the hash embedder's scores are tiny: let its hits through (the real model needs no such change)
        tuned = client.patch("/api/v1/tenants/me/settings", json={"retrieval": {"min_score": 0.0}},
                             headers={"Authorization": f"Bearer {token}"})  # fmt: skip
        assert tuned.status_code == 200, tuned.text
    return {"email": email, "password": password, "phone_number_id": number, "app_secret": secret}


def test_the_dashboard_end_to_end(start_service, fake_graph: FakeGraphApi, tmp_path: Path) -> None:
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (make system-deps)")
    if not MENU.is_file():
        pytest.skip(f"{MENU} is missing")
    _build_dashboard()
    if not (DASHBOARD / "node_modules" / "playwright-core").is_dir():
        subprocess.run(["npm", "ci", "--no-fund", "--no-audit"], cwd=DASHBOARD, check=True)

    uploads = tmp_path / "uploads"
    common = {"embedding_provider": "hash", "uploads_dir": str(uploads)}
    graph = {"whatsapp_api_base_url": fake_graph.url, "instagram_api_base_url": fake_graph.url}
    (gateway,) = start_service("gateway", dashboard_dir=str(DIST), bcrypt_rounds=4, **common, **graph)
    start_service("ingestion", **common)
    start_service("rag", llm_provider="local", embedding_provider="hash", turn_window_seconds=0.2)
    start_service("channels", **graph)

    seeded = _seed(gateway.url)
    stamp = uuid.uuid4().hex[:6]
    screenshots = ARTIFACTS / "screenshots"
    config = {
        "baseUrl": gateway.url,
        "email": seeded["email"],
        "password": seeded["password"],
        "pdf": str(MENU),
        # Friday closing hours are in the branches table and the FAQ, not in the menu
        "extraFiles": [str(MENU.with_name(name)) for name in ("branches.csv", "faq.docx")],
        "dist": str(DIST),
        "question": "what time do you close on Friday?",
        "fallback": f"Sorry, let me find a colleague ({stamp}).",
        "agentReply": f"Hello from the team, a table is ready for you ({stamp}).",
        "webhook": _webhook(seeded["phone_number_id"], seeded["app_secret"], "Hi, can I book a table tonight?"),
        "screenshots": str(screenshots),
        "result": str(tmp_path / "result.json"),
        "chromium": str(CHROMIUM),
    }
    (tmp_path / "config.json").write_text(json.dumps(config))
    started = time.monotonic()
    run = subprocess.run(
        ["node", str(DASHBOARD / "e2e" / "dashboard.e2e.mjs")],
        cwd=DASHBOARD, env={**os.environ, "E2E_CONFIG": str(tmp_path / "config.json")},
        capture_output=True, text=True, timeout=420,
    )  # fmt: skip
    log_dir = ARTIFACTS / "logs" / "test_the_dashboard_end_to_end"
    log_dir.mkdir(parents=True, exist_ok=True)
    (log_dir / "browser.log").write_text(run.stdout + run.stderr)
    result = json.loads(Path(config["result"]).read_text())
    (log_dir / "browser-result.json").write_text(json.dumps(result, indent=2))
    assert run.returncode == 0, f"{run.stdout[-4000:]}\n{run.stderr[-4000:]}"

    # the reply typed in the inbox reached the (fake) WhatsApp Cloud API
    async def agent_sends() -> list[str]:
        return [s.body.get("text", {}).get("body", "") for s in fake_graph.sends()]

    texts = asyncio.run(eventually(agent_sends, lambda ts: config["agentReply"] in ts, timeout=30))
    assert config["agentReply"] in texts
    assert result["chatSources"], result
    assert result["csvHasChange"], result

    gzip_kb = result["initialJs"]["gzip"] / 1024
    tti = result["overviewTtiMs"]
    update(
        "dashboard",
        "## Dashboard\n\n"
        f"Measured by `tests/e2e/test_dashboard.py` (headless Chromium via playwright-core, gateway serving "
        f"`dashboard/dist` on 127.0.0.1, the whole e2e run took {time.monotonic() - started:.0f} s).\n\n"
        "| metric | value | budget |\n|---|---|---|\n"
        f"| initial JavaScript (entry + modulepreloads, gzip -9) | {gzip_kb:.1f} KB "
        f"({len(result['initialJs']['files'])} files, {result['initialJs']['raw'] / 1024:.0f} KB raw) | < 300 KB |\n"
        f"| overview time to interactive (navigation start → heading rendered, every panel settled, "
        f"controls enabled; session restored by a token refresh) | {tti} ms | < {TTI_BUDGET_MS} ms |\n"
        f"| JavaScript fetched by the overview (initial + lazy Overview chunk with recharts, encoded) | "
        f"{result['overviewJsBytes'] / 1024:.1f} KB | — |\n",
        machine({"Chromium": subprocess.run([CHROMIUM, "--version"], capture_output=True, text=True).stdout.strip()}),
    )
    assert result["initialJs"]["gzip"] < JS_BUDGET_GZIP, result["initialJs"]
