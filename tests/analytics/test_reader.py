"""The analytics read interface over the derived tables: exact against the facts they are built from.

Rows are written by the analytics repository (what the consumer does per event); the expected
figures come from the fact tables (`response_times`, `customer_days`) with Postgres' own
`percentile_cont` and `count(DISTINCT …)`, independently of the packed blocks and multiranges.
"""

from __future__ import annotations

import random
import uuid
from datetime import date, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from wafaa.analytics.insights.repository import RollupRepository
from wafaa.common.analytics import AnalyticsReader, Period
from wafaa.common.db import Database

pytestmark = pytest.mark.integration

DAY = date(2026, 3, 1)


def _day(n: int) -> date:
    return DAY + timedelta(days=n)


async def _seed_customers(db: Database, tenant: uuid.UUID) -> None:
    # x: days 0 and 9 on WhatsApp; y: day 4 on WhatsApp and Instagram; z: days 2-3 on Instagram
    activity = [("x", "whatsapp", 0), ("x", "whatsapp", 9), ("y", "whatsapp", 4), ("y", "instagram", 4),
                ("z", "instagram", 2), ("z", "instagram", 3), ("x", "whatsapp", 9)]  # fmt: skip
    async with db.transaction(tenant) as session:
        rollups = RollupRepository(session, tenant)
        for customer, channel, day in activity:
            await rollups.customer_day(_day(day), channel, customer)


async def _expected_customers(admin: AsyncEngine, tenant: uuid.UUID, period: Period) -> int:
    sql = (
        "SELECT count(DISTINCT customer_id) FROM analytics.customer_days WHERE tenant_id = :t "
        "AND day BETWEEN :s AND :e AND (CAST(:c AS text) IS NULL OR channel = :c)"
    )
    params = {"t": tenant, "s": period.start, "e": period.end, "c": period.channel}
    async with admin.connect() as conn:
        return int((await conn.execute(text(sql), params)).scalar_one())


@pytest.mark.parametrize(
    ("first", "last", "channel", "customers"),
    [
        (0, 9, None, 3),  # the whole range
        (5, 8, None, 0),  # between x's two days: x's bounds cover it, its days do not
        (1, 8, None, 2),  # y and z, not x
        (4, 4, "instagram", 1),
        (9, 30, "whatsapp", 1),
        (0, 0, "instagram", 0),
    ],
)
async def test_distinct_active_customers_equal_a_count_over_the_customer_days(
    app_engine: AsyncEngine, admin_engine: AsyncEngine, first: int, last: int, channel: str | None, customers: int
) -> None:
    tenant, other = uuid.uuid4(), uuid.uuid4()
    db = Database(app_engine)
    await _seed_customers(db, tenant)
    await _seed_customers(db, other)  # the same customers at another tenant are not counted
    period = Period(_day(first), _day(last), channel)
    async with db.transaction(tenant) as session:
        counted = await AnalyticsReader(session, tenant).active_customers(period)
    assert counted == customers == await _expected_customers(admin_engine, tenant, period)


async def test_response_time_percentiles_equal_percentile_cont_over_the_facts(
    app_engine: AsyncEngine, admin_engine: AsyncEngine
) -> None:
    tenant = uuid.uuid4()
    db = Database(app_engine)
    rng = random.Random(4)
    async with db.transaction(tenant) as session:
        rollups = RollupRepository(session, tenant)
        for _ in range(600):
            kind = rng.choice(["bot", "bot", "human", "resolution"])
            channel = rng.choice(["whatsapp", "instagram"])
            seconds = round(rng.lognormvariate(0.5, 1.2), 6)
            await rollups.response_time(kind, uuid.uuid4(), channel, _day(rng.randrange(5)), rng.randrange(24), seconds)
        ref = uuid.uuid4()  # a response measured twice counts once
        assert await rollups.response_time("bot", ref, "whatsapp", _day(1), 10, 2.5)
        assert not await rollups.response_time("bot", ref, "whatsapp", _day(1), 10, 2.5)

    period = Period(_day(1), _day(3))
    async with db.transaction(tenant) as session:
        reader = AnalyticsReader(session, tenant)
        by_channel = await reader.response_times(period, by="channel")
        hours, overall = await reader.response_times_by_hour(period)

    def expected_sql(group: str) -> str:
        return (
            f"SELECT kind{group}, count(*) AS count, avg(seconds) AS avg, "
            "percentile_cont(0.5) WITHIN GROUP (ORDER BY seconds) AS p50, "
            "percentile_cont(0.9) WITHIN GROUP (ORDER BY seconds) AS p90, "
            "percentile_cont(0.99) WITHIN GROUP (ORDER BY seconds) AS p99 FROM analytics.response_times "
            f"WHERE tenant_id = :t AND day BETWEEN :s AND :e GROUP BY kind{group} ORDER BY kind{group}"
        )

    params = {"t": tenant, "s": period.start, "e": period.end}
    async with admin_engine.connect() as conn:
        expected = {
            group: [dict(r) for r in (await conn.execute(text(expected_sql(group)), params)).mappings()]
            for group in ("", ", channel", ", hour")
        }
    for got, want in ((overall, expected[""]), (by_channel, expected[", channel"]), (hours, expected[", hour"])):
        assert len(got) == len(want) > 0
        for g, w in zip(got, want, strict=True):
            keys = [k for k in ("kind", "channel", "hour", "count") if k in w]
            assert [g[k] for k in keys] == [w[k] for k in keys]
            for figure in ("avg", "p50", "p90", "p99"):
                assert g[figure] == pytest.approx(float(w[figure]), rel=1e-12), (g, w, figure)
