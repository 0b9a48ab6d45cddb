"""Meta's Graph APIs (WhatsApp Cloud API, Instagram messaging): one small client for every service."""

from wafaa.common.meta.client import SEND_TIMED_OUT, Credentials, GraphClient, SendResult
from wafaa.common.meta.errors import GraphError
from wafaa.common.meta.settings import MetaApiSettings
from wafaa.common.meta.splitting import split_message

__all__ = [
    "SEND_TIMED_OUT",
    "Credentials",
    "GraphClient",
    "GraphError",
    "MetaApiSettings",
    "SendResult",
    "split_message",
]
