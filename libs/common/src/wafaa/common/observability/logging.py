"""Structured JSON logs that always say which service, tenant, event and request they are about."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

service_var: ContextVar[str | None] = ContextVar("service", default=None)
tenant_var: ContextVar[str | None] = ContextVar("tenant_id", default=None)
event_var: ContextVar[str | None] = ContextVar("event_id", default=None)
request_var: ContextVar[str | None] = ContextVar("request_id", default=None)

_CONTEXT = (("service", service_var), ("tenant_id", tenant_var), ("event_id", event_var), ("request_id", request_var))
_VARIABLES = dict(_CONTEXT)
_RESERVED = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}


@contextmanager
def log_context(**values: str | None) -> Iterator[None]:
    """Bind tenant_id / event_id / request_id to every log line written inside the block."""
    tokens = [(_VARIABLES[name], _VARIABLES[name].set(value)) for name, value in values.items()]
    try:
        yield
    finally:
        for var, token in reversed(tokens):
            var.reset(token)


class JsonFormatter(logging.Formatter):
    """One JSON object a line, with the bound context and any `extra=` fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name, var in _CONTEXT:
            value = var.get()
            if value is not None:
                entry[name] = value
        for key, value in record.__dict__.items():
            if key not in _RESERVED and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


class _ContextTextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        context = " ".join(f"{n}={v.get()}" for n, v in _CONTEXT if v.get() is not None)
        line = super().format(record)
        return f"{line} [{context}]" if context else line


def configure_logging(service: str, level: str = "INFO", fmt: str = "json") -> None:
    """Send every logger of the process to stderr in the chosen format, tagged with the service."""
    service_var.set(service)
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(_ContextTextFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "faststream"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
