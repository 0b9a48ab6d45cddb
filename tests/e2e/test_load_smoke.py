"""Load smoke: the pipeline benchmark, briefly, as a test (the full run is `make bench`).

200 signed webhooks in 20 s over 4 tenants, plus 1% repeated, through all five services to the fake
Graph API (`bench.pipeline`, which also measures the floors). The numbers are printed, never asserted:
they depend on the machine. What is asserted is what a customer would notice under load: every
webhook answered 2xx, no message without its reply, no reply sent twice.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import ARTIFACTS, ROOT

pytestmark = [pytest.mark.e2e, pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(900)]

SMOKE = [
    "--messages", "200", "--seconds", "20", "--tenants", "4",
    "--floor-webhooks", "300", "--floor-seconds", "2", "--rag-floor", "20",
    "--idle-timeout", "60", "--settle", "2", "--no-write",
]  # fmt: skip


def test_a_short_load_through_all_services_loses_and_doubles_nothing() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "bench.pipeline", *SMOKE], cwd=ROOT, capture_output=True, text=True, timeout=840
    )
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "load-smoke.md").write_text(run.stdout + run.stderr)
    print(run.stdout[-4000:])
    assert run.returncode == 0, run.stderr[-3000:]
    verdict = next((line for line in run.stdout.splitlines() if "Nothing lost or duplicated" in line), "")
    clean = "**met** (0 lost, 0 duplicate replies, 0 webhooks not answered 2xx)"
    assert clean in verdict, verdict or run.stdout[-3000:]
