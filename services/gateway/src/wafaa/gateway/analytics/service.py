"""Analytics figures from the analytics read interface: rates, comparisons and insights."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from wafaa.common.analytics import AnalyticsReader, Period
from wafaa.gateway.auth.dependencies import Principal
from wafaa.gateway.errors import ApiError

MAX_RANGE_DAYS = 366
DEFAULT_DAYS = 30


def period(start: date | None, end: date | None, channel: str | None) -> Period:
    """A validated period: `from` ≤ `to`, at most MAX_RANGE_DAYS days; the last 30 days by default."""
    end = end or date.today()
    try:
        start = start or end - timedelta(days=DEFAULT_DAYS - 1)
        Period(start, end, channel).previous()  # the period just before, which the answers compare with
    except (OverflowError, ValueError) as exc:
        raise ApiError(422, "invalid_period", "The period reaches before the first day of the calendar.") from exc
    if start > end:
        raise ApiError(422, "invalid_period", "`from` must not be after `to`.")
    if (end - start).days + 1 > MAX_RANGE_DAYS:
        raise ApiError(422, "period_too_long", f"A period covers at most {MAX_RANGE_DAYS} days.")
    return Period(start, end, channel)


def _rate(part: float, whole: float) -> float | None:
    return round(part / whole, 4) if whole else None


def _avg(total: float, count: float) -> float | None:
    return round(total / count, 3) if count else None


def _kinds(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {
        r["kind"]: {k: (round(float(r[k]), 3) if r[k] is not None else None) for k in ("avg", "p50", "p90", "p99")}
        | {"count": int(r["count"])}
        for r in rows
    }


def _summary(totals: dict[str, Any], customers: int, times: dict[str, dict[str, Any]]) -> dict[str, Any]:
    t = {k: float(v) for k, v in totals.items()}
    attempts = t["replies_sent"] + t["replies_failed"]
    bot = times.get("bot", {})
    return {
        "conversations": int(t["conversations"]),
        "messages_in": int(t["messages_in"]),
        "messages_out": int(t["replies_bot"] + t["replies_human"]),
        "active_customers": customers,
        "bot_resolution_rate": _rate(t["bot_resolved"], t["conversations"]),
        "handoff_rate": _rate(t["escalated"], t["conversations"]),
        "avg_response_seconds": bot.get("avg"),
        "p90_response_seconds": bot.get("p90"),
        "delivery_success_rate": _rate(attempts - t["replies_failed"] - t["status_failed"], attempts),
    }


def _change(now: Any, before: Any) -> float | None:
    if now is None or before is None or not before:
        return None
    return round((now - before) / before, 4)


async def overview(principal: Principal, p: Period) -> dict[str, Any]:
    """The period's headline numbers next to the previous period's."""
    reader = AnalyticsReader(principal.session, principal.tenant_id)
    figures = []
    for each in (p, p.previous()):
        totals = (await reader.totals(each))[0]
        bot = await reader.response_times(each, kind="bot")  # the summary shows the bot's times
        figures.append(_summary(totals, await reader.active_customers(each), _kinds(bot)))
    current, previous = figures
    return {
        "period": {"from": p.start, "to": p.end, "channel": p.channel},
        "previous_period": {"from": p.previous().start, "to": p.previous().end},
        "current": current,
        "previous": previous,
        "change": {k: _change(current[k], previous[k]) for k in current},
    }


async def trends(principal: Principal, p: Period, granularity: str) -> dict[str, Any]:
    """Messages and conversations per hour, day or week."""
    rows = await AnalyticsReader(principal.session, principal.tenant_id).trend(p, granularity)
    points = [
        {"bucket": r["bucket"], "messages_in": int(r["messages_in"]), "messages_out": int(r["messages_out"]),
         "conversations": int(r["conversations"])}
        for r in rows
    ]  # fmt: skip
    return {"granularity": granularity, "points": points}


async def channels(principal: Principal, p: Period) -> dict[str, Any]:
    """Per channel: volume, bot response time, delivery and read rates, failures by error code."""
    reader = AnalyticsReader(principal.session, principal.tenant_id)
    failures: dict[str, dict[str, int]] = {}
    for r in await reader.failures(p):
        failures.setdefault(r["channel"], {})[r["error_code"]] = int(r["failures"])
    times = {r["channel"]: r for r in await reader.response_times(p, by="channel") if r["kind"] == "bot"}
    result = []
    for r in await reader.totals(p, by="channel"):
        sent = float(r["replies_sent"])
        rt = times.get(r["channel"])
        result.append({
            "channel": r["channel"],
            "messages_in": int(r["messages_in"]),
            "messages_out": int(r["replies_bot"] + r["replies_human"]),
            "conversations": int(r["conversations"]),
            "avg_response_seconds": round(float(rt["avg"]), 3) if rt else None,
            "p90_response_seconds": round(float(rt["p90"]), 3) if rt else None,
            "replies_sent": int(sent),
            "replies_failed": int(r["replies_failed"]),
            "delivery_rate": _rate(float(r["delivered"]), sent),
            "read_rate": _rate(float(r["read"]), sent),
            "failures_by_error_code": failures.get(r["channel"], {}),
        })  # fmt: skip
    return {"channels": result}


async def sentiment(principal: Principal, p: Period) -> dict[str, Any]:
    """Sentiment distribution and daily trend per language."""
    reader = AnalyticsReader(principal.session, principal.tenant_id)
    languages: dict[str, dict[str, Any]] = {}
    for r in await reader.sentiment(p):
        lang = languages.setdefault(r["language"], {"messages": 0, "labels": {}, "score_sum": 0.0, "emoji": 0})
        lang["messages"] += int(r["messages"])
        lang["labels"][r["label"]] = int(r["messages"])
        lang["score_sum"] += float(r["score_sum"])
        lang["emoji"] += int(r["emoji"])
    for lang in languages.values():
        lang["average_score"] = _avg(lang.pop("score_sum"), lang["messages"])
        lang["distribution"] = {k: _rate(v, lang["messages"]) for k, v in lang["labels"].items()}
    trend: dict[str, dict[str, dict[str, int]]] = {}
    for r in await reader.sentiment(p, by_day=True):
        trend.setdefault(r["language"], {}).setdefault(r["day"].isoformat(), {})[r["label"]] = int(r["messages"])
    return {"languages": languages, "trend": trend}


async def response_times(principal: Principal, p: Period) -> dict[str, Any]:
    """Bot vs human vs resolution: count, average and percentiles, overall and by hour of day."""
    hours, overall = await AnalyticsReader(principal.session, principal.tenant_id).response_times_by_hour(p)
    by_hour: dict[str, dict[int, dict[str, Any]]] = {}
    for r in hours:
        by_hour.setdefault(r["kind"], {})[int(r["hour"])] = _kinds([r])[r["kind"]]
    return {"overall": _kinds(overall), "by_hour": by_hour}


async def insights(principal: Principal, p: Period) -> dict[str, Any]:
    """Top intents, top knowledge gaps, busiest hours and notable changes against the previous period."""
    reader = AnalyticsReader(principal.session, principal.tenant_id)
    intents = {r["intent"]: int(r["messages"]) for r in await reader.intents(p)}
    before = {r["intent"]: int(r["messages"]) for r in await reader.intents(p.previous())}
    gaps = [
        {"id": r["id"], "question": r["label"], "occurrences": int(r["occurrences"]), "examples": r["examples"]}
        for r in await reader.knowledge_gaps(p)
    ]
    hours = sorted(
        ({"hour": int(r["hour"]), "messages_in": int(r["messages_in"])} for r in await reader.totals(p, by="hour")),
        key=lambda h: (-h["messages_in"], h["hour"]),
    )
    total_now, total_before = sum(intents.values()), sum(before.values())
    changes = []
    for intent in sorted(set(intents) | set(before)):
        share_now = _rate(intents.get(intent, 0), total_now) or 0.0
        share_before = _rate(before.get(intent, 0), total_before) or 0.0
        if total_now and total_before and abs(share_now - share_before) >= 0.05:
            direction = "rise" if share_now > share_before else "fall"
            changes.append({"metric": f"intent:{intent}", "change": direction, "share": share_now,
                            "previous_share": share_before})  # fmt: skip
    return {
        "top_intents": [{"intent": k, "messages": v} for k, v in intents.items()],
        "knowledge_gaps": gaps,
        "busiest_hours": hours[:5],
        "notable_changes": changes,
    }
