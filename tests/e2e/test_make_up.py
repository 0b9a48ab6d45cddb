"""`make up` on this machine: embedded servers, migrations, five services, health answers, Ctrl-C."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from wafaa.devstack.servers import free_port

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]


def wait_for(url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float = 120.0) -> httpx.Response:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"make up exited with {proc.returncode}:\n{log.read_text()[-4000:]}")
        try:
            response = httpx.get(url, timeout=2.0)
            if response.status_code == 200:
                return response
        except httpx.HTTPError:
            pass
        time.sleep(0.25)
    raise AssertionError(f"{url} not answering after {timeout}s:\n{log.read_text()[-4000:]}")


def wait_for_text(log: Path, text: str, proc: subprocess.Popen[bytes], timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        if text in log.read_text():
            return True
        time.sleep(0.25)
    raise AssertionError(f"{text!r} not printed:\n{log.read_text()[-3000:]}")


def test_make_up_serves_healthy_database_and_redis_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    gateway_port = free_port()
    pg_port, redis_port = free_port(), free_port()
    worker_base = 20000 + (os.getpid() % 200) * 100  # ingestion +0, rag +100/+101, channels +200, analytics +300
    worker_ports = (worker_base, worker_base + 100, worker_base + 101, worker_base + 200, worker_base + 300)
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "DATABASE_ADMIN_URL"}} | {
        "DATA_DIR": str(tmp_path / "data"),
        "GATEWAY_PORT": str(gateway_port),
        "LOCAL_POSTGRES_PORT": str(pg_port),
        "LOCAL_REDIS_PORT": str(redis_port),
        "SCALE": "rag=2",
        "LOCAL_WORKER_PORT_BASE": str(worker_base),
        "GRACEFUL_TIMEOUT": "5",
    }
    log = ROOT / "test-artifacts" / "make-up.log"
    log.parent.mkdir(exist_ok=True)
    with log.open("wb") as out:
        proc = subprocess.Popen(["make", "up"], cwd=ROOT, env=env, stdout=out, stderr=out, start_new_session=True)
    try:
        base = f"http://127.0.0.1:{gateway_port}"
        db = wait_for(f"{base}/api/v1/health/database", proc, log).json()
        assert db["status"] == "ok" and db["checks"]["database"]["status"] == "ok"
        rd = wait_for(f"{base}/api/v1/health/redis", proc, log).json()
        assert rd["status"] == "ok" and rd["checks"]["redis"]["status"] == "ok"
        for port in worker_ports:  # every worker replica answers ready
            assert wait_for(f"http://127.0.0.1:{port}/ready", proc, log).json()["status"] == "ok"
        output = log.read_text()
        assert f"http://127.0.0.1:{gateway_port}" in output
        assert "owner@demo.wafaa.local" in output  # the printed login works
        login = httpx.post(
            f"{base}/api/v1/auth/login", json={"email": "owner@demo.wafaa.local", "password": "demo-owner-password"}
        )
        assert login.status_code == 200, login.text
        assert wait_for_text(log, "demo knowledge: uploaded 4 demo documents", proc)
    finally:
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C sends to the foreground process group
        code = proc.wait(60)
    output = log.read_text()
    # make itself reports the interrupt (130 / -SIGINT); what matters is that everything under it stopped
    assert code in (0, 130, -signal.SIGINT), output[-4000:]
    assert "stopped." in output
    # up to Ctrl-C nothing failed (work in flight at Ctrl-C may log its interruption and stays pending)
    assert "Traceback" not in output.split("SIGINT received")[0]
    for port in (gateway_port, *worker_ports, pg_port, redis_port):
        with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=1.0):
            pass
