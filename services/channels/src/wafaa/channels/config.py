"""Settings of the channels service."""

from typing import ClassVar

from pydantic import SecretStr

from wafaa.common.config import CommonSettings
from wafaa.common.meta import MetaApiSettings

DEV_CHANNEL_SECRETS_KEY = "wafaa-dev-channel-secrets-key"


class ChannelsSettings(CommonSettings, MetaApiSettings):
    """Environment: the common names, the Graph API's, and the key channel tokens are encrypted with."""

    service_name: str = "channels"
    host: str = "127.0.0.1"
    port: int = 8003
    channel_secrets_key: SecretStr = SecretStr(DEV_CHANNEL_SECRETS_KEY)
    customer_window_hours: int = 24

    dev_secrets: ClassVar[tuple[tuple[str, str], ...]] = (("channel_secrets_key", DEV_CHANNEL_SECRETS_KEY),)
