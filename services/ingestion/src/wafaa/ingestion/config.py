"""Settings of the ingestion service."""

from wafaa.common.config import CommonSettings


class IngestionSettings(CommonSettings):
    """Environment: the common names plus PORT for the probe server."""

    service_name: str = "ingestion"
    host: str = "127.0.0.1"
    port: int = 8001
