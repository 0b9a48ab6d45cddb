"""The load benchmark's arithmetic: rates, the knee, keeping up, the memory slope and the flat rule."""

from __future__ import annotations

import math

import pytest

from bench.measure import percentile
from bench.pipeline import MB
from bench.soak import (
    doubling_rates,
    drift_allowance_mb,
    ingress_latencies,
    kept_up,
    knee,
    last_passing,
    memory_flat,
    on_time_share,
    p50_95_99,
    parse_rates,
    rss_slope_mb_per_min,
    slope,
)


def test_percentiles_are_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]  # 1 … 100
    assert p50_95_99(values) == (50.0, 95.0, 99.0)
    assert percentile([3.0, 1.0, 2.0], 0.5) == 2.0
    assert all(math.isnan(v) for v in p50_95_99([]))


def test_rates_double_from_the_start_and_end_at_the_maximum() -> None:
    assert doubling_rates(50, 3200) == [50, 100, 200, 400, 800, 1600, 3200]
    assert doubling_rates(50, 200) == [50, 100, 200]
    assert doubling_rates(50, 300) == [50, 100, 200, 300]
    assert doubling_rates(50, 50) == [50]
    with pytest.raises(ValueError):
        doubling_rates(100, 50)


def test_e2e_rates_parse_from_a_comma_list() -> None:
    assert parse_rates("2,4, 8,12") == [2.0, 4.0, 8.0, 12.0]
    with pytest.raises(ValueError):
        parse_rates("2,0")


def test_a_webhook_not_answered_2xx_counts_as_infinitely_late() -> None:
    records = [(10.0, 10.25, 200), (10.0, 10.5, 503), (11.0, 0.0, None), (12.0, 12.125, 202)]
    assert ingress_latencies(records) == [0.25, math.inf, math.inf, 0.125]


def test_the_knee_is_the_last_step_before_p99_passes_one_second() -> None:
    steps = [(50.0, 0.01), (100.0, 0.05), (200.0, 0.9), (400.0, 1.3), (800.0, 0.2)]
    assert knee(steps) == 200.0  # the step after the first over the limit does not count
    assert knee([(50.0, 1.0), (100.0, 1.0001)]) == 50.0  # exactly 1 s is still within
    assert knee([(50.0, 2.0), (100.0, 0.1)]) is None
    assert knee([(50.0, math.nan)]) is None  # nothing answered is not within the limit
    assert knee([(50.0, 0.1), (100.0, math.inf)]) == 50.0
    assert knee([]) is None


def test_the_sustained_rate_is_the_highest_step_kept_up_before_the_first_that_was_not() -> None:
    assert last_passing([(2.0, True), (4.0, True), (8.0, False), (12.0, True)]) == 4.0
    assert last_passing([(2.0, False)]) is None


def test_a_step_keeps_up_when_99_percent_are_answered_in_time() -> None:
    on_time = [0.1] * 99
    assert on_time_share([*on_time, None], 10) == 0.99
    assert kept_up([*on_time, None], 10)  # one of 100 unanswered: exactly 99%
    assert kept_up([*on_time, 10.0], 10)  # exactly at the limit is in time
    assert not kept_up([*on_time[:98], None, 10.5], 10)  # 98 of 100
    assert not kept_up([*on_time, None, None], 10)  # 99 of 101
    assert not kept_up([], 10)


def test_the_slope_of_a_straight_line_is_exact() -> None:
    assert slope([(x, 3.0 + 2.5 * x) for x in range(10)]) == pytest.approx(2.5, abs=1e-12)
    assert slope([(0.0, 1.0), (1.0, 3.0), (2.0, 2.0)]) == pytest.approx(0.5, abs=1e-12)  # least squares
    assert slope([(0.0, 5.0), (1.0, 5.0)]) == 0.0
    assert math.isnan(slope([(1.0, 2.0)]))
    assert math.isnan(slope([(1.0, 2.0), (1.0, 3.0)]))


def test_the_memory_slope_leaves_out_the_warm_up_and_whatever_follows_the_sending() -> None:
    start = 1000.0
    # 100 MB, growing 60 MB in the first minute (warm-up), then 2 MB per minute; 50 MB more after the end
    samples = [(start + t, int((100 + (t if t <= 60 else 60 + (t - 60) / 30)) * MB)) for t in range(0, 601, 5)]
    samples.append((start + 605, int(500 * MB)))
    assert rss_slope_mb_per_min(samples, start, 60, start + 600) == pytest.approx(2.0, abs=1e-6)
    assert rss_slope_mb_per_min(samples, start, 0, start + 600) > 2.0  # the warm-up's growth would count
    assert math.isnan(rss_slope_mb_per_min(samples, start, 700, start + 600))


def test_memory_is_flat_when_the_drift_stays_under_5_percent_or_10_mb() -> None:
    assert drift_allowance_mb(100.0) == 10.0  # 5% would be 5 MB: the 10 MB floor applies
    assert drift_allowance_mb(400.0) == 20.0
    # a flat series: 0.1 MB/min over 10 min = 1 MB
    assert memory_flat(0.1, 10, 100.0) is True
    assert memory_flat(-0.9, 10, 100.0) is True  # shrinking by 9 MB
    # a leak: 2 MB/min over 10 min = 20 MB, over 10 MB for a 100 MB process, under 5% of a 1 GB one
    assert memory_flat(2.0, 10, 100.0) is False
    assert memory_flat(2.0, 10, 1000.0) is True
    assert memory_flat(1.0, 10, 100.0) is False  # exactly the allowance is not below it
    assert memory_flat(math.nan, 10, 100.0) is None
