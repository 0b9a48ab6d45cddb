"""Probing the gateway's dependencies."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable
from typing import Literal

from pydantic import BaseModel
from redis.asyncio import Redis

from wafaa.common.db import Database


class DependencyHealth(BaseModel):
    status: Literal["ok", "unavailable"]
    latency_ms: float | None = None
    error: str | None = None


async def _probe(check: Awaitable[object], seconds: float) -> DependencyHealth:
    started = time.perf_counter()
    try:
        await asyncio.wait_for(check, seconds)
    except Exception as exc:  # noqa: BLE001 - any failure is "unavailable"
        return DependencyHealth(status="unavailable", error=type(exc).__name__)
    return DependencyHealth(status="ok", latency_ms=round((time.perf_counter() - started) * 1000, 2))


async def database_health(db: Database, seconds: float = 2.0) -> DependencyHealth:
    """Whether Postgres answers a trivial query."""
    return await _probe(db.ping(), seconds)


async def redis_health(redis: Redis, seconds: float = 2.0) -> DependencyHealth:
    """Whether Redis answers PING."""
    return await _probe(redis.ping(), seconds)
