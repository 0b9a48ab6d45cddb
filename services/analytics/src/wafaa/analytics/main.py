"""Composition root of the analytics service."""

from wafaa.analytics.config import AnalyticsSettings
from wafaa.analytics.database import ProcessedEvent
from wafaa.analytics.insights.handlers import (
    on_conversation_status_changed,
    on_delivery_status_changed,
    on_message_received,
    on_reply_failed,
    on_reply_ready,
    on_reply_sent,
)
from wafaa.common.events import (
    ConversationStatusChanged,
    DeliveryStatusChanged,
    MessageReceived,
    ReplyFailed,
    ReplyReady,
    ReplySent,
)
from wafaa.common.runtime import WorkerRuntime

settings = AnalyticsSettings()
runtime = WorkerRuntime(settings, "analytics")
# Every handler writes only the service's own tables, so a read batch is applied in one transaction.
runtime.on(MessageReceived, on_message_received, inbox=ProcessedEvent, group_commit=True)
runtime.on(ReplyReady, on_reply_ready, inbox=ProcessedEvent, group_commit=True)
runtime.on(ReplySent, on_reply_sent, inbox=ProcessedEvent, group_commit=True)
runtime.on(ReplyFailed, on_reply_failed, inbox=ProcessedEvent, group_commit=True)
runtime.on(DeliveryStatusChanged, on_delivery_status_changed, inbox=ProcessedEvent, group_commit=True)
runtime.on(ConversationStatusChanged, on_conversation_status_changed, inbox=ProcessedEvent, group_commit=True)

app = runtime.asgi()
