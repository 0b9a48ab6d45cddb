"""`/api/v1/analytics`: tenant analytics for owners and admins (read-only)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query

from wafaa.common.analytics import Period
from wafaa.gateway.analytics import service
from wafaa.gateway.auth.dependencies import Manager

router = APIRouter(prefix="/api/v1/analytics", tags=["analytics"])
ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "Not authenticated"},
    403: {"description": "Owners and admins only"},
    422: {"description": "Invalid period (`invalid_period`, `period_too_long`)"},
}
From = Annotated[date | None, Query(alias="from", description="First tenant-local day (default: 30 days ago)")]
To = Annotated[date | None, Query(alias="to", description="Last tenant-local day, included (default: today)")]
ChannelFilter = Literal["whatsapp", "instagram", "web"] | None


def selected_period(from_: From = None, to: To = None, channel: ChannelFilter = None) -> Period:
    """The `from`, `to` and `channel` query parameters every analytics endpoint takes, validated."""
    return service.period(from_, to, channel)


SelectedPeriod = Annotated[Period, Depends(selected_period)]


@router.get("/overview", responses=ERRORS)
async def overview(principal: Manager, period: SelectedPeriod) -> dict[str, Any]:
    """Conversations, messages, customers, resolution, handoff, response time and delivery, vs the previous period."""
    return await service.overview(principal, period)


@router.get("/trends", responses=ERRORS)
async def trends(
    principal: Manager,
    period: SelectedPeriod,
    granularity: Literal["hour", "day", "week"] = "day",
) -> dict[str, Any]:
    """Messages and conversations per hour, day or week."""
    return await service.trends(principal, period, granularity)


@router.get("/channels", responses=ERRORS)
async def channels(principal: Manager, period: SelectedPeriod) -> dict[str, Any]:
    """Per channel: volume, response time, delivery and read rates, failures by error code."""
    return await service.channels(principal, period)


@router.get("/agent/sentiment", responses=ERRORS)
async def sentiment(principal: Manager, period: SelectedPeriod) -> dict[str, Any]:
    """Sentiment distribution and trend per language."""
    return await service.sentiment(principal, period)


@router.get("/agent/response-times", responses=ERRORS)
async def response_times(principal: Manager, period: SelectedPeriod) -> dict[str, Any]:
    """Bot vs human response times (p50/p90/p99) and time to resolution, by hour of day."""
    return await service.response_times(principal, period)


@router.get("/agent/insights", responses=ERRORS)
async def insights(principal: Manager, period: SelectedPeriod) -> dict[str, Any]:
    """Top intents, knowledge gaps with examples, busiest hours and notable changes."""
    return await service.insights(principal, period)
