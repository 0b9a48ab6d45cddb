"""The load client of the HTTP benchmarks: a small asyncio HTTP/1.1 client on uvloop, loopback, bounded loops.

Why not httpx: on this machine one httpx.AsyncClient peaks near 500 requests/s against the bare floor and
gets slower as connections are added (about 200/s at 32 connections, its pool is the bottleneck), so it
would measure itself rather than the servers. This client writes pre-serialised requests on keep-alive
connections (`asyncio.open_connection`) and reads the status line, the headers and a Content-Length body.
Closed loop: `concurrency` connections, each sends its next request when the previous one answered,
until `total` requests were sent. Latency is send to full response.
Paced (open loop): request n is due at start + n / rate; it goes out at its due time on an idle connection
(a new one when all are busy, at most `max_in_flight`), and its latency runs from the due time, so a
stalled server cannot hide its queue (no coordinated omission).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import psutil

KEEP_ALIVE_S = 3.0  # reuse a client connection only while the server keeps it (uvicorn: 5 s)


def take_fresh(idle: list[tuple[float, Connection]]) -> Connection | None:
    """The most recently used idle connection younger than `KEEP_ALIVE_S`; older ones are closed."""
    while idle:
        used, conn = idle.pop()
        if time.monotonic() - used < KEEP_ALIVE_S:
            return conn
        conn.close()
    return None


def request_bytes(method: str, path: str, port: int, headers: dict[str, str], body: bytes | None = None) -> bytes:
    """One HTTP/1.1 keep-alive request, serialised."""
    lines = [f"{method} {path} HTTP/1.1", f"host: 127.0.0.1:{port}", "user-agent: wafaa-bench", "accept: */*"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    if body is not None:
        lines.append(f"content-length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + (body or b"")


class Connection:
    """One keep-alive connection; `send` returns the status code and the body."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, port: int) -> Connection:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer)

    async def send(self, raw: bytes) -> tuple[int, bytes]:
        self.writer.write(raw)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
            elif name.strip().lower() == b"transfer-encoding":
                raise RuntimeError("chunked responses are not supported by the bench client")
        return status, await self.reader.readexactly(length) if length else b""

    def close(self) -> None:
        self.writer.close()


@dataclass
class Run:
    """One timed run: latencies in ms, the wall time and what did not answer 2xx."""

    latencies: list[float] = field(default_factory=list)
    elapsed: float = 0.0
    errors: dict[str, int] = field(default_factory=dict)
    cpu_server: float = 0.0  # CPU seconds of the server process during the run

    @property
    def ok(self) -> int:
        return len(self.latencies)

    @property
    def rps(self) -> float:
        return self.ok / self.elapsed if self.elapsed else 0.0

    def pct(self, q: float) -> float:
        """Nearest-rank percentile of the latencies (ms)."""
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]

    def error_text(self) -> str:
        return ", ".join(f"{k}×{v}" for k, v in sorted(self.errors.items())) or "none"


def _cpu(pid: int) -> float:
    with contextlib.suppress(psutil.Error):
        times = psutil.Process(pid).cpu_times()
        return times.user + times.system
    return 0.0


async def _send(conn: Connection | None, port: int, raw: bytes, run: Run, started: float) -> Connection | None:
    """Send on `conn` (or a new connection); the connection to reuse, None when it broke."""
    try:
        if conn is None:
            conn = await Connection.open(port)
        status, _ = await asyncio.wait_for(conn.send(raw), 30)
    except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError, ValueError) as exc:
        key = type(exc).__name__
        run.errors[key] = run.errors.get(key, 0) + 1
        if conn is not None:
            conn.close()
        return None
    if 200 <= status < 300:
        run.latencies.append((time.perf_counter() - started) * 1000)
    else:
        run.errors[str(status)] = run.errors.get(str(status), 0) + 1
    return conn


async def closed_loop(port: int, build: Callable[[int], bytes], concurrency: int, total: int, server_pid: int) -> Run:
    """`total` requests on `concurrency` connections, one request in flight on each."""
    run = Run()
    counter = iter(range(total))
    conns: list[Connection | None] = [await Connection.open(port) for _ in range(concurrency)]

    async def worker(slot: int) -> None:
        for n in counter:
            raw = build(n)
            conns[slot] = await _send(conns[slot], port, raw, run, time.perf_counter())

    cpu_before = _cpu(server_pid)
    started = time.perf_counter()
    await asyncio.gather(*(worker(slot) for slot in range(concurrency)))
    run.elapsed = time.perf_counter() - started
    run.cpu_server = _cpu(server_pid) - cpu_before
    for conn in conns:
        if conn is not None:
            conn.close()
    return run


async def paced(
    port: int, build: Callable[[int], bytes], rate: float, seconds: float, server_pid: int, max_in_flight: int = 256
) -> Run:
    """`rate * seconds` requests on a fixed schedule; latency from each request's due time.

    A connection idle for `KEEP_ALIVE_S` or longer is closed rather than reused: the server may have
    closed it already (uvicorn after 5 s), and the send on it would fail for the client's sake, not the
    server's (seen: one IncompleteReadError in a 5,000-request run, on either side).
    """
    run = Run()
    total = int(rate * seconds)
    slots = asyncio.Semaphore(max_in_flight)
    idle: list[tuple[float, Connection]] = [(time.monotonic(), await Connection.open(port)) for _ in range(8)]
    tasks: set[asyncio.Task[None]] = set()

    async def one(n: int, due: float) -> None:
        try:
            conn = await _send(take_fresh(idle), port, build(n), run, due)
            if conn is not None:
                idle.append((time.monotonic(), conn))
        finally:
            slots.release()

    cpu_before = _cpu(server_pid)
    start = time.perf_counter()
    for n in range(total):
        due = start + n / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        await slots.acquire()
        task = asyncio.create_task(one(n, due))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    await asyncio.gather(*tasks)
    run.elapsed = time.perf_counter() - start
    run.cpu_server = _cpu(server_pid) - cpu_before
    for _, conn in idle:
        conn.close()
    return run


def load_average() -> str:
    """The 1-minute load average."""
    return f"{os.getloadavg()[0]:.2f}"


def run_async(coro: object) -> object:
    """Run on uvloop (as the services do) when it is installed."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coro)  # type: ignore[arg-type]
    return uvloop.run(coro)  # type: ignore[arg-type]
