"""SIGTERM stops the responder within its graceful timeout, also while it is busy answering."""

from __future__ import annotations

import asyncio
import contextlib
import random
import signal
import subprocess
import sys
import time
import uuid

import pytest
from redis.asyncio import Redis

from tests.fixtures.factories import message_received
from wafaa.common.db import Database
from wafaa.common.messaging import EventPublisher
from wafaa.common.providers.embeddings import HashEmbedder
from wafaa.common.runtime.watchdog import EXIT_SHUTDOWN_OVERRUN
from wafaa.rag.answers.llm import MockAnswerer
from wafaa.rag.config import RagSettings
from wafaa.rag.turns.scheduler import TurnKey
from wafaa.rag.turns.service import Responder

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

GRACEFUL_TIMEOUT = 10


async def test_a_busy_responder_stops_within_its_graceful_timeout_each_time_it_is_sigtermed(
    start_service, publisher: EventPublisher
) -> None:
    # Before the turn loop was asked to stop instead of cancelled, about one SIGTERM in four left the
    # process running for good (the cancellation was swallowed inside a Redis call).
    rng = random.Random(5)
    stops = []
    for _ in range(6):
        [rag] = start_service(
            "rag",
            embedding_provider="hash",
            llm_provider="local",
            turn_window_seconds=0.3,
            graceful_timeout=GRACEFUL_TIMEOUT,
        )
        tenants = [uuid.uuid4() for _ in range(4)]
        for i in range(150):
            customer = f"9715{i % 40:08d}"
            await publisher.publish(message_received(rng.choice(tenants), customer_id=customer, text=f"hours {i}?"))
        await asyncio.sleep(rng.uniform(0.2, 3.0))  # SIGTERM lands anywhere in the work
        started = time.monotonic()
        rag.signal(signal.SIGTERM)
        try:
            code = await asyncio.to_thread(rag.wait, 3 * GRACEFUL_TIMEOUT)
        except subprocess.TimeoutExpired:
            rag.kill9()
            code = None
        stops.append((code, round(time.monotonic() - started, 1)))
        assert code == -signal.SIGTERM, f"exit {code} after SIGTERM (stops so far {stops}):\n{rag.logs()[-4000:]}"
        assert stops[-1][1] < GRACEFUL_TIMEOUT, stops


class SwallowingScheduler:
    """Claims nothing, and ignores a cancellation delivered during the claim, as a Redis call was seen to."""

    def __init__(self) -> None:
        self.claims = 0
        self.claiming = asyncio.Event()

    async def claim(self, limit: int) -> list[tuple[TurnKey, float]]:
        self.claims += 1
        self.claiming.set()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.sleep(0.2)
        self.claiming.clear()
        return []


async def test_the_turn_loop_stops_when_asked_even_if_a_claim_swallows_its_cancellation(
    app_engine, redis: Redis, publisher: EventPublisher
) -> None:
    settings = RagSettings(turn_poll_interval_ms=5, graceful_timeout=2)
    responder = Responder(settings, Database(app_engine), redis, publisher, HashEmbedder(), MockAnswerer())
    scheduler = responder.scheduler = SwallowingScheduler()  # type: ignore[assignment]
    responder.start()
    await asyncio.wait_for(scheduler.claiming.wait(), 5)
    stopping = asyncio.ensure_future(responder.stop())  # asked in the middle of a claim
    await asyncio.wait({stopping}, timeout=5)  # not wait_for: cancelling a stuck stop would hang too
    assert stopping.done() and responder._task is not None and responder._task.done()
    claims = scheduler.claims
    await asyncio.sleep(0.5)
    assert scheduler.claims == claims  # no claim after the stop


WATCHED = """
import asyncio, logging, sys
from wafaa.common.runtime.watchdog import ShutdownWatchdog
logging.basicConfig(stream=sys.stdout, level=logging.INFO)

async def never_closes():
    await asyncio.Event().wait()

async def main():
    asyncio.create_task(never_closes(), name="a-connection-that-never-closes")
    ShutdownWatchdog(0.5).arm()
    await asyncio.sleep(30)

asyncio.run(main())
"""


def test_a_shutdown_past_its_deadline_logs_what_it_waits_for_and_ends_the_process() -> None:
    done = subprocess.run([sys.executable, "-c", WATCHED], capture_output=True, text=True, timeout=20)
    assert done.returncode == EXIT_SHUTDOWN_OVERRUN
    assert "shutdown still running 0.5 s after it began; ending the process: 2 tasks pending" in done.stdout
    assert "a-connection-that-never-closes" in done.stdout and "never_closes" in done.stdout
    assert "in main" in done.stdout  # the main task's stack: where it is suspended
