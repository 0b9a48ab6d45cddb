"""Settings of the rag service."""

from wafaa.common.config import CommonSettings


class RagSettings(CommonSettings):
    """Environment: the common names plus PORT for the probe server."""

    service_name: str = "rag"
    host: str = "127.0.0.1"
    port: int = 8002
