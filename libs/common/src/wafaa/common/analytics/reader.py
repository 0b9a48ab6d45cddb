"""Reading analytics through the views of migration `anal0002` (SELECT only, the reader's RLS applies).

Every figure comes from rollups keyed by the tenant-local day: reads never scan messages. Every query
also filters on the tenant explicitly. Response-time percentiles are exact (Postgres
`percentile_cont`'s linear interpolation) over the packed per-hour sample blocks; distinct customers
are counted over each customer's multirange of active days.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any
from uuid import UUID

import numpy as np
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

COUNTERS = (
    "messages_in", "replies_bot", "replies_human", "fallback_replies", "handoff_replies", "conversations",
    "escalated", "bot_resolved", "replies_sent", "replies_failed", "delivered", "read", "status_failed",
    "bot_rt_count", "bot_rt_sum", "human_rt_count", "human_rt_sum", "resolution_count", "resolution_sum",
)  # fmt: skip
ALL_CHANNELS = "*"  # the customer activity row of every channel together
_BUCKETS = {"hour": "day + make_interval(hours => hour)", "day": "day::timestamp", "week": "date_trunc('week', day)"}


@dataclass(frozen=True)
class Period:
    """Tenant-local days `start` to `end`, both included, optionally one channel."""

    start: date
    end: date
    channel: str | None = None

    def previous(self) -> Period:
        """The period of the same length just before this one."""
        length = self.end - self.start
        end = self.start.fromordinal(self.start.toordinal() - 1)
        return Period(end - length, end, self.channel)


def _figures(seconds: np.ndarray) -> dict[str, Any]:
    """Count, mean and p50/p90/p99 with linear interpolation, as Postgres `percentile_cont`."""
    p50, p90, p99 = np.percentile(seconds, (50, 90, 99)).tolist()
    return {"count": len(seconds), "avg": float(seconds.mean()), "p50": p50, "p90": p90, "p99": p99}


class AnalyticsReader:
    """Analytics of the transaction's tenant."""

    def __init__(self, session: AsyncSession, tenant_id: UUID) -> None:
        self.session = session
        self.tenant_id = tenant_id

    def _where(self, period: Period) -> tuple[str, dict[str, Any]]:
        sql = "tenant_id = :t AND day BETWEEN :start AND :end"
        params: dict[str, Any] = {"t": self.tenant_id, "start": period.start, "end": period.end}
        if period.channel:
            sql += " AND channel = :channel"
            params["channel"] = period.channel
        return sql, params

    async def _rows(self, sql: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        return [dict(r) for r in (await self.session.execute(text(sql), params)).mappings().all()]

    async def totals(self, period: Period, by: str | None = None) -> list[dict[str, Any]]:
        """Sums of every counter, overall or grouped by `channel` or `hour`."""
        where, params = self._where(period)
        sums = ", ".join(f"COALESCE(SUM({c}), 0) AS {c}" for c in COUNTERS)
        group = f"{by}, " if by else ""
        tail = f" GROUP BY {by} ORDER BY {by}" if by else ""
        return await self._rows(f"SELECT {group}{sums} FROM analytics.traffic_by_hour WHERE {where}{tail}", params)

    async def active_customers(self, period: Period) -> int:
        """Distinct customers who wrote in the period (one activity row per customer and channel or `*`)."""
        params = {"t": self.tenant_id, "c": period.channel or ALL_CHANNELS, "start": period.start, "end": period.end}
        sql = (
            "SELECT count(*) AS n FROM analytics.active_customer_ranges "
            "WHERE tenant_id = :t AND channel = :c AND first_day <= :end AND last_day >= :start "
            "AND ((first_day >= :start AND last_day <= :end) OR days && daterange(:start, :end, '[]'))"
        )
        return int((await self._rows(sql, params))[0]["n"])

    async def _samples(
        self, period: Period, by: str | None, kind: str | None = None
    ) -> list[tuple[dict[str, Any], np.ndarray]]:
        """Each group's response seconds (kind, and `by` when given), from the packed blocks."""
        where, params = self._where(period)
        if kind:
            where += " AND kind = :kind"
            params["kind"] = kind
        group = f", {by}" if by else ""
        sql = (
            f"SELECT kind{group}, string_agg(samples, ''::bytea) AS samples "
            f"FROM analytics.response_time_sample_blocks WHERE {where} GROUP BY kind{group} ORDER BY kind{group}"
        )
        rows = await self._rows(sql, params)
        return [(row, np.frombuffer(row.pop("samples"), dtype=">f8")) for row in rows]

    async def response_times(
        self, period: Period, by: str | None = None, kind: str | None = None
    ) -> list[dict[str, Any]]:
        """Count, average and p50/p90/p99 of response seconds per kind (bot, human, resolution), or of one."""
        return [{**key, **_figures(seconds)} for key, seconds in await self._samples(period, by, kind)]

    async def response_times_by_hour(self, period: Period) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """`response_times` per kind and hour of day, and per kind overall, from one read."""
        groups = await self._samples(period, "hour")
        kinds: dict[str, list[np.ndarray]] = {}
        for key, seconds in groups:
            kinds.setdefault(key["kind"], []).append(seconds)
        overall = [{"kind": kind, **_figures(np.concatenate(parts))} for kind, parts in sorted(kinds.items())]
        return [{**key, **_figures(seconds)} for key, seconds in groups], overall

    async def trend(self, period: Period, granularity: str) -> list[dict[str, Any]]:
        """Messages, replies and conversations per hour, day or week."""
        where, params = self._where(period)
        bucket = _BUCKETS[granularity]
        sql = (
            f"SELECT {bucket} AS bucket, SUM(messages_in) AS messages_in, "
            "SUM(replies_bot + replies_human) AS messages_out, SUM(conversations) AS conversations "
            f"FROM analytics.traffic_by_hour WHERE {where} GROUP BY 1 ORDER BY 1"
        )
        return await self._rows(sql, params)

    async def failures(self, period: Period) -> list[dict[str, Any]]:
        """Failures per channel and error code."""
        where, params = self._where(period)
        sql = (
            "SELECT channel, error_code, SUM(failures) AS failures FROM analytics.failures_by_day "
            f"WHERE {where} GROUP BY channel, error_code ORDER BY channel, failures DESC, error_code"
        )
        return await self._rows(sql, params)

    async def sentiment(self, period: Period, by_day: bool = False) -> list[dict[str, Any]]:
        """Messages and average score per language and label (per day for a trend)."""
        where, params = self._where(period)
        day = "day, " if by_day else ""
        sql = (
            f"SELECT {day}language, label, SUM(messages) AS messages, SUM(score_sum) AS score_sum, "
            f"SUM(emoji) AS emoji FROM analytics.sentiment_by_day WHERE {where} "
            f"GROUP BY {day}language, label ORDER BY {day}language, label"
        )
        return await self._rows(sql, params)

    async def intents(self, period: Period) -> list[dict[str, Any]]:
        """Messages per intent, most frequent first."""
        where, params = self._where(period)
        sql = (
            f"SELECT intent, SUM(messages) AS messages FROM analytics.intents_by_day WHERE {where} "
            "GROUP BY intent ORDER BY messages DESC, intent"
        )
        return await self._rows(sql, params)

    async def knowledge_gaps(self, period: Period, limit: int = 10) -> list[dict[str, Any]]:
        """The most frequent unanswered questions of the period, with examples."""
        where, params = self._where(period)
        sql = (
            "SELECT g.id, g.label, g.examples, r.occurrences FROM ("
            f" SELECT gap_id, SUM(occurrences) AS occurrences FROM analytics.knowledge_gaps_by_day WHERE {where}"
            " GROUP BY gap_id) r JOIN analytics.knowledge_gap_directory g ON g.id = r.gap_id AND g.tenant_id = :t"
            " ORDER BY r.occurrences DESC, g.label LIMIT :limit"
        )
        return await self._rows(sql, {**params, "limit": limit})
