"""Health routes: `/health`, `/ready` for orchestrators, `/api/v1/health/*` for people."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request, Response, status
from pydantic import BaseModel

from wafaa.gateway.health.service import DependencyHealth, database_health, redis_health

router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: Literal["ok", "unavailable"]
    service: str = "gateway"
    checks: dict[str, DependencyHealth] = {}


def _answer(response: Response, checks: dict[str, DependencyHealth]) -> Health:
    ok = all(c.status == "ok" for c in checks.values())
    if not ok:
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    return Health(status="ok" if ok else "unavailable", checks=checks)


@router.get("/health", include_in_schema=False)
@router.get("/api/v1/health")
async def alive() -> Health:
    """The gateway process is up."""
    return Health(status="ok")


@router.get("/ready", include_in_schema=False)
async def ready(request: Request, response: Response) -> Health:
    """Postgres and Redis both reachable."""
    state = request.app.state
    return _answer(response, {"database": await database_health(state.db), "redis": await redis_health(state.redis)})


@router.get("/api/v1/health/database", responses={503: {"model": Health}})
async def database(request: Request, response: Response) -> Health:
    """Postgres answers."""
    return _answer(response, {"database": await database_health(request.app.state.db)})


@router.get("/api/v1/health/redis", responses={503: {"model": Health}})
async def redis(request: Request, response: Response) -> Health:
    """Redis answers."""
    return _answer(response, {"redis": await redis_health(request.app.state.redis)})
