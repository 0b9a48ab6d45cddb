"""Composition root of the channels service."""

from datetime import timedelta

from wafaa.channels.config import ChannelsSettings
from wafaa.channels.database import ProcessedEvent
from wafaa.channels.deliveries.handlers import on_delivery_status_changed, on_message_received
from wafaa.channels.deliveries.service import ReplySender
from wafaa.common.channels import ChannelDirectory
from wafaa.common.events import DeliveryStatusChanged, MessageReceived, ReplyReady
from wafaa.common.meta import GraphClient
from wafaa.common.runtime import WorkerRuntime
from wafaa.common.secrets import SecretBox

settings = ChannelsSettings()
runtime = WorkerRuntime(settings, "channels")
assert runtime.db is not None
graph = GraphClient(settings)
sender = ReplySender(
    runtime.db,
    graph,
    ChannelDirectory(SecretBox(settings.channel_secrets_key.get_secret_value())),
    runtime.publisher,
    runtime.redis,
    timedelta(hours=settings.customer_window_hours),
)

# Sending spans several transactions (intent, each part, outcome), so it is not wrapped in one.
runtime.consumer.subscribe(ReplyReady, sender.deliver)
# These two write only the service's own tables, so a read batch is applied in one transaction.
runtime.on(MessageReceived, on_message_received, inbox=ProcessedEvent, group_commit=True)
runtime.on(DeliveryStatusChanged, on_delivery_status_changed, inbox=ProcessedEvent, group_commit=True)

app = runtime.asgi()
app.after_shutdown(graph.aclose)
