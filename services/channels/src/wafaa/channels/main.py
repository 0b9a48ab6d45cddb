"""Composition root of the channels service."""

from wafaa.channels.config import ChannelsSettings
from wafaa.channels.database import ProcessedEvent
from wafaa.channels.deliveries.handlers import on_reply_ready
from wafaa.common.events import ReplyReady
from wafaa.common.runtime import WorkerRuntime

settings = ChannelsSettings()
runtime = WorkerRuntime(settings, "channels")
runtime.on(ReplyReady, on_reply_ready, inbox=ProcessedEvent)

app = runtime.asgi()
