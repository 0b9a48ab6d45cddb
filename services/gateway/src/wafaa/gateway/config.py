"""Settings of the gateway."""

from pydantic import Field

from wafaa.common.config import CommonSettings


class GatewaySettings(CommonSettings):
    """Environment: the common names plus the HTTP surface's own."""

    service_name: str = "gateway"
    host: str = "127.0.0.1"
    port: int = 8000
    cors_origins: list[str] = Field(default_factory=lambda: ["http://localhost:5173", "http://127.0.0.1:5173"])
    docs_enabled: bool = True
