"""Settings of the analytics service."""

from wafaa.common.config import CommonSettings


class AnalyticsSettings(CommonSettings):
    """Environment: the common names plus PORT for the probe server."""

    service_name: str = "analytics"
    host: str = "127.0.0.1"
    port: int = 8004
