"""Settings of the channels service."""

from wafaa.common.config import CommonSettings


class ChannelsSettings(CommonSettings):
    """Environment: the common names plus PORT for the probe server."""

    service_name: str = "channels"
    host: str = "127.0.0.1"
    port: int = 8003
