"""Read interface of the analytics service's rollups (its security-invoker views)."""

from wafaa.common.analytics.reader import ALL_CHANNELS, AnalyticsReader, Period

__all__ = ["ALL_CHANNELS", "AnalyticsReader", "Period"]
