"""Parsing in a child process with a wall-clock timeout and an address-space cap.

PDF and DOCX parsers have a long history of infinite loops and decompression bombs: the child can
be killed without harming the worker. Children fork from a forkserver that has the parsers imported
already, so each document costs a fork, not an interpreter start.
"""

from __future__ import annotations

import multiprocessing
import resource
from multiprocessing.connection import Connection
from typing import Any

from wafaa.ingestion.extraction.schemas import Extracted, ExtractionError, ExtractionLimits

_context: Any = None


def _ctx() -> Any:
    global _context
    if _context is None:
        _context = multiprocessing.get_context("forkserver")
        _context.set_forkserver_preload(["wafaa.ingestion.extraction.parsers", "pypdf", "docx"])
    return _context


def _child(conn: Connection, data: bytes, content_type: str, limits: ExtractionLimits) -> None:
    cap = limits.memory_mb * 2**20
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    from wafaa.ingestion.extraction.parsers import parse

    try:
        conn.send(("ok", parse(data, content_type, limits)))
    except ExtractionError as exc:
        conn.send(("failed", str(exc)))
    except MemoryError:
        conn.send(("failed", f"parsing needed more than {limits.memory_mb} MB of memory"))
    except RecursionError:
        conn.send(("failed", "the file is nested too deeply to parse"))
    except Exception as exc:  # noqa: BLE001 - any parser bug becomes a readable failure, not a crash
        conn.send(("failed", f"the file could not be parsed ({type(exc).__name__})"))
    finally:
        conn.close()


def extract_isolated(data: bytes, content_type: str, limits: ExtractionLimits) -> Extracted:
    """Blocking: parse in a fresh child; ExtractionError on a parse error, timeout, or crash."""
    receiver, sender = _ctx().Pipe(duplex=False)
    child = _ctx().Process(target=_child, args=(sender, data, content_type, limits), daemon=True)
    child.start()
    sender.close()
    try:
        # Read before joining: a large result would otherwise block the child on a full pipe.
        if not receiver.poll(limits.timeout_seconds):
            raise ExtractionError(f"parsing took longer than {limits.timeout_seconds:g} seconds")
        try:
            status, value = receiver.recv()
        except EOFError as exc:
            raise ExtractionError("the parser crashed (possibly the memory cap)") from exc
    finally:
        if child.is_alive():
            child.kill()
        child.join(5)
        receiver.close()
    if status != "ok":
        raise ExtractionError(value)
    result: Extracted = value
    return result
