"""Composition root of the analytics service."""

from wafaa.analytics.config import AnalyticsSettings
from wafaa.analytics.database import ProcessedEvent
from wafaa.analytics.insights.handlers import on_message_received, on_reply_ready
from wafaa.common.events import MessageReceived, ReplyReady
from wafaa.common.runtime import WorkerRuntime

settings = AnalyticsSettings()
runtime = WorkerRuntime(settings, "analytics")
runtime.on(MessageReceived, on_message_received, inbox=ProcessedEvent)
runtime.on(ReplyReady, on_reply_ready, inbox=ProcessedEvent)

app = runtime.asgi()
