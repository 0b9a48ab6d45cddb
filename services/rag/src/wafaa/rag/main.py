"""Composition root of the rag service."""

from wafaa.common.events import MessageReceived
from wafaa.common.runtime import WorkerRuntime
from wafaa.rag.config import RagSettings
from wafaa.rag.conversations.handlers import on_message_received
from wafaa.rag.database import ProcessedEvent

settings = RagSettings()
runtime = WorkerRuntime(settings, "rag")
runtime.on(MessageReceived, on_message_received, inbox=ProcessedEvent)

app = runtime.asgi()
