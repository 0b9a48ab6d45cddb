"""The demo tenant `make up` creates: an owner to log in with and a small bilingual knowledge base."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

DEMO_DOCUMENTS = Path(__file__).resolve().parents[3] / "demo"


@dataclass(frozen=True)
class Demo:
    name: str
    email: str
    password: str


def create_tenant(demo: Demo, env: dict[str, str]) -> str:
    """Create the demo tenant with `wafaa tenant create`; a second run finds it already there."""
    command = ["tenant", "create", "--name", demo.name, "--owner-email", demo.email, "--owner-password", demo.password]
    result = subprocess.run(
        [sys.executable, "-m", "wafaa.gateway.cli", *command], env=env, capture_output=True, text=True
    )
    if result.returncode == 0:
        return f"created ({json.loads(result.stdout)['tenant']['id']})"
    if result.returncode == 3:
        return "already there"
    return f"not created: {result.stderr.strip() or result.stdout.strip()}"


def upload_documents(base_url: str, demo: Demo, timeout: float = 180.0) -> str:
    """Once the gateway answers, log in as the demo owner and upload the demo documents (first run only)."""
    deadline = time.monotonic() + timeout
    with httpx.Client(base_url=base_url, timeout=30.0) as client:
        while True:
            try:
                if client.get("/ready").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                return "gateway not ready; demo documents not uploaded"
            time.sleep(0.5)
        login = client.post("/api/v1/auth/login", json={"email": demo.email, "password": demo.password})
        if login.status_code != 200:
            return f"demo login failed ({login.status_code}); documents not uploaded"
        headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
        existing = client.get("/api/v1/knowledge", headers=headers)
        if existing.status_code != 200:
            return f"knowledge API answered {existing.status_code}; documents not uploaded"
        body = existing.json()
        items = body.get("items", body) if isinstance(body, dict) else body
        if items:
            return "demo documents already uploaded"
        paths = sorted(p for p in DEMO_DOCUMENTS.iterdir() if p.is_file() and p.name != "README.md")
        files = [("files", (p.name, p.read_bytes())) for p in paths]
        response = client.post("/api/v1/knowledge", files=files, headers=headers)
        if response.status_code != 202:
            return f"upload answered {response.status_code}: {response.text[:200]}"
        return f"uploaded {len(paths)} demo documents: {', '.join(p.name for p in paths)}"
