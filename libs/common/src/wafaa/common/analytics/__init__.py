"""Read interface of the analytics service's rollups (its security-invoker views)."""

from wafaa.common.analytics.reader import AnalyticsReader, Period

__all__ = ["AnalyticsReader", "Period"]
