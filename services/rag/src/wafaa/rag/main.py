"""Composition root of the rag service."""

from wafaa.common.db import exactly_once
from wafaa.common.events import AgentReplied, ConversationStatusChanged, MessageReceived
from wafaa.common.knowledge import make_vector_store
from wafaa.common.providers import make_embedder
from wafaa.common.runtime import WorkerRuntime
from wafaa.rag.answers.llm import make_llm
from wafaa.rag.config import RagSettings
from wafaa.rag.conversations.handlers import on_agent_replied, on_message_received, on_status_changed
from wafaa.rag.conversations.service import needs_turn
from wafaa.rag.database import ProcessedEvent
from wafaa.rag.turns.scheduler import TurnKey
from wafaa.rag.turns.service import Responder

settings = RagSettings()
runtime = WorkerRuntime(settings, "rag")
assert runtime.db is not None
responder = Responder(
    settings,
    runtime.db,
    runtime.redis,
    runtime.publisher,
    make_embedder(settings),
    make_llm(settings),
    make_vector_store(settings),
)
store_inbound = exactly_once(runtime.db, ProcessedEvent, "rag", runtime.consumer.options.consumer, on_message_received)


async def on_message(event: MessageReceived) -> None:
    """Store the message (exactly once), then (re)schedule its conversation's turn.

    Scheduling runs after the commit and before the stream entry is acknowledged, also for a
    duplicate: a crash in between redelivers the entry and the turn is scheduled then.
    """
    await store_inbound(event)
    p = event.payload
    if needs_turn(event):
        await responder.schedule(TurnKey(event.tenant_id, p.channel, p.customer_id), immediate=p.channel == "web")


runtime.consumer.subscribe(MessageReceived, on_message)
runtime.on(ConversationStatusChanged, on_status_changed, inbox=ProcessedEvent)
runtime.on(AgentReplied, on_agent_replied(runtime.publisher), inbox=ProcessedEvent)

app = runtime.asgi()


@app.after_startup
async def start_turns() -> None:
    responder.start()


@app.on_shutdown
async def stop_turns() -> None:
    await responder.stop()


@app.after_shutdown
async def close_vector_store() -> None:
    await responder.store.aclose()
