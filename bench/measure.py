"""What the benchmarks measure with: percentiles, a process tree's CPU and memory, a fake server in its own process."""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import socket
import time
from collections.abc import Callable, Iterator
from math import ceil
from typing import Any

import psutil

from wafaa.devstack.servers import free_port


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (NaN when empty)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, ceil(q * len(ordered)) - 1))]


def process_tree(proc: psutil.Process | int) -> list[psutil.Process]:
    """A process and its children (empty when it is gone)."""
    with contextlib.suppress(psutil.Error):
        root = proc if isinstance(proc, psutil.Process) else psutil.Process(proc)
        return [root, *root.children(recursive=True)]
    return []


def tree_cpu(proc: psutil.Process | int, *, reaped: bool = False) -> float:
    """User + system CPU seconds of a process and its live children so far (and, with `reaped`, of the
    children it has waited for: Postgres's backends that came and went)."""
    members = process_tree(proc)
    total = 0.0
    for p in members:
        with contextlib.suppress(psutil.Error):
            t = p.cpu_times()
            total += t.user + t.system
            if reaped and p is members[0]:
                total += t.children_user + t.children_system
    return total


def tree_rss(proc: psutil.Process | int) -> int:
    """Resident set of a process and its children, in bytes."""
    total = 0
    for p in process_tree(proc):
        with contextlib.suppress(psutil.Error):
            total += p.memory_info().rss
    return total


@contextlib.contextmanager
def spawned_server(target: Callable[..., None], *args: Any, what: str) -> Iterator[tuple[int, int]]:
    """Run `target(port, *args)` (a server) in a spawned process; yield (port, pid) once it accepts connections."""
    port = free_port()
    proc = mp.get_context("spawn").Process(target=target, args=(port, *args), daemon=True)
    proc.start()
    deadline = time.monotonic() + 30
    while True:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            break
        if time.monotonic() > deadline or not proc.is_alive():
            proc.terminate()
            raise RuntimeError(f"{what} did not start")
        time.sleep(0.05)
    try:
        assert proc.pid is not None
        yield port, proc.pid
    finally:
        proc.terminate()
        proc.join(10)
