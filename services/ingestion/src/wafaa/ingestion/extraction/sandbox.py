"""Parsing in worker processes with a wall-clock timeout and an address-space cap.

PDF and DOCX parsers have a long history of infinite loops and decompression bombs: a worker whose
parse runs past the timeout is killed and replaced (pebble's ProcessPool), and each worker's address
space is capped, so neither harms the service. Workers start from a forkserver, not from the
service's own process, and are reused: a small document costs a round trip to a worker, not a fork
and the imports of a fresh child (a fork per document capped ingestion at a few dozen small
documents per second). A worker is replaced after `MAX_TASKS` documents all the same.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import os
import resource
import threading
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

from pebble import ProcessExpired, ProcessPool

from wafaa.ingestion.extraction.schemas import Extracted, ExtractionError, ExtractionLimits

MAX_TASKS = 500
_pools: dict[tuple[int, int], ProcessPool] = {}
_lock = threading.Lock()


def _workers(configured: int) -> int:
    """Parsing processes per service process: as configured, else one per CPU available."""
    return configured if configured > 0 else max(len(os.sched_getaffinity(0)), 1)


def _cap_memory(memory_mb: int) -> None:
    cap = memory_mb * 2**20
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))


def _parse(data: bytes, content_type: str, limits: ExtractionLimits) -> tuple[str, Any]:
    """Runs in a worker: elements, or the reason the file cannot be read (never raises)."""
    from wafaa.ingestion.extraction.parsers import parse

    try:
        return "ok", parse(data, content_type, limits)
    except ExtractionError as exc:
        return "failed", str(exc)
    except MemoryError:
        return "failed", f"parsing needed more than {limits.memory_mb} MB of memory"
    except RecursionError:
        return "failed", "the file is nested too deeply to parse"
    except Exception as exc:  # noqa: BLE001 - any parser bug becomes a readable failure, not a crash
        return "failed", f"the file could not be parsed ({type(exc).__name__})"


def _parse_file(path: str, content_type: str, limits: ExtractionLimits) -> tuple[str, Any]:
    """Runs in a worker: read the file there (its bytes never pass through the service), then `_parse`."""
    try:
        with open(path, "rb") as file:
            data = file.read(limits.max_file_bytes + 1)
    except OSError as exc:
        return "failed", f"the uploaded file cannot be read ({type(exc).__name__})"
    return _parse(data, content_type, limits)


def _pool(limits: ExtractionLimits) -> ProcessPool:
    key = (limits.memory_mb, limits.workers)
    with _lock:
        pool = _pools.get(key)
        if pool is None or not pool.active:
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload(["wafaa.ingestion.extraction.parsers", "pypdf", "docx"])
            pool = ProcessPool(
                max_workers=_workers(limits.workers),
                max_tasks=MAX_TASKS,
                initializer=_cap_memory,
                initargs=(limits.memory_mb,),
                context=context,
            )
            _pools[key] = pool
        return pool


def submit(data: bytes, content_type: str, limits: ExtractionLimits) -> Future[Any]:
    """Queue a parse; the future's result goes through `outcome`."""
    future: Future[Any] = _pool(limits).schedule(
        _parse, args=(data, content_type, limits), timeout=limits.timeout_seconds
    )
    return future


def submit_file(path: str, content_type: str, limits: ExtractionLimits) -> Future[Any]:
    """Queue the parse of a file the worker reads itself; the future's result goes through `outcome`."""
    future: Future[Any] = _pool(limits).schedule(
        _parse_file, args=(path, content_type, limits), timeout=limits.timeout_seconds
    )
    return future


def outcome(future: Future[Any], limits: ExtractionLimits) -> Extracted:
    """The parsed elements of a finished future; ExtractionError on a parse error, timeout, or crash."""
    try:
        status, value = future.result()
    except FutureTimeout as exc:
        raise ExtractionError(f"parsing took longer than {limits.timeout_seconds:g} seconds") from exc
    except ProcessExpired as exc:
        raise ExtractionError("the parser crashed (possibly the memory cap)") from exc
    if status != "ok":
        raise ExtractionError(value)
    result: Extracted = value
    return result


def extract_isolated(data: bytes, content_type: str, limits: ExtractionLimits) -> Extracted:
    """Blocking: parse in a worker process; ExtractionError on a parse error, timeout, or crash."""
    # The pool counts the timeout from the moment a worker starts the task: waiting in the queue
    # behind other documents does not count against it.
    return outcome(submit(data, content_type, limits), limits)


async def extract_async(data: bytes, content_type: str, limits: ExtractionLimits) -> Extracted:
    """Parse in a worker process without blocking the event loop."""
    future = submit(data, content_type, limits)
    with contextlib.suppress(Exception):  # `outcome` turns a timeout or a crash into a readable reason
        await asyncio.wrap_future(future)
    return outcome(future, limits)


async def extract_file_async(path: str, content_type: str, limits: ExtractionLimits) -> Extracted:
    """Read and parse a file in a worker process without blocking the event loop."""
    future = submit_file(path, content_type, limits)
    with contextlib.suppress(Exception):
        await asyncio.wrap_future(future)
    return outcome(future, limits)


def shutdown() -> None:
    """Stop the workers (at service shutdown)."""
    with _lock:
        for pool in _pools.values():
            pool.stop()
            pool.join(timeout=10)
        _pools.clear()
