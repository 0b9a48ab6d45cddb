"""Consumer names: unique per process so a group can tell replicas apart."""

from __future__ import annotations

import os
import socket


def consumer_name(service: str, configured: str | None = None) -> str:
    """`<service>-<host>-<pid>` unless a name is configured (hostname alone repeats across forks)."""
    return configured or f"{service}-{socket.gethostname()}-{os.getpid()}"
