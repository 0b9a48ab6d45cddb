"""Answering a turn: read the state, retrieve, generate outside any transaction, store and publish."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID, uuid5

from redis.asyncio import Redis

from wafaa.common.conversations.chat import ChatUpdate, chat_channel
from wafaa.common.db import Database
from wafaa.common.events import ReplyReady, ReplyReadyPayload, Source
from wafaa.common.knowledge.search import KnowledgeHit, search
from wafaa.common.knowledge.vectors import PgVectorStore, VectorStore
from wafaa.common.messaging import EventPublisher
from wafaa.common.providers import Embedder
from wafaa.common.tenancy.bot_settings import BotSettings, read_bot_settings
from wafaa.rag.answers.language import asks_for_human, detect_language, is_complaint, rewrite_follow_up
from wafaa.rag.answers.llm import Answer, LlmGateway, source_payloads
from wafaa.rag.answers.prompt import AnswerRequest, Turn
from wafaa.rag.answers.support import SupportChecker, search_text
from wafaa.rag.config import RagSettings
from wafaa.rag.conversations.repository import ConversationRepository, MessageRepository
from wafaa.rag.conversations.service import MEDIA_KINDS, status_event
from wafaa.rag.turns.scheduler import TurnKey, TurnScheduler

logger = logging.getLogger(__name__)

ARABIC_FALLBACK = "عذراً، لا تتوفر لدي هذه المعلومة. هل تريد أن أوصلك بأحد موظفينا؟"
ARABIC_HANDOFF = "سيقوم أحد أعضاء فريقنا بالرد عليك قريباً."
HUMAN_OFFER = " Write “human” to talk to a person."
DEFAULTS = BotSettings()
# Bot replies are named after the messages they answer (uuid5 in this namespace): a turn run again
# after a crash publishes the same message id, and the channel sender sends a message id once.
REPLY_NAMESPACE = UUID("5d8f3c1e-2a4b-4f0e-9c6d-7b1a2e3f4c5d")
# A turn this process scheduled is claimed this long after it falls due (its timer fires a little
# late rather than a little early, so the claim finds it due).
WAKE_SLACK_SECONDS = 0.002


def reply_message_id(answered: list[UUID]) -> UUID:
    """The id of the bot's reply to these inbound messages."""
    return uuid5(REPLY_NAMESPACE, ",".join(sorted(str(i) for i in answered)))


@dataclass
class PreparedTurn:
    conversation_id: UUID
    channel: str
    channel_id: UUID | None
    customer_id: str
    pending_ids: list[UUID]
    in_reply_to: str | None
    request_id: str | None
    text: str
    settings: BotSettings
    handoff: bool
    request: AnswerRequest | None
    media_only: bool = False  # an image, voice note or sticker without text: answered with the "I read text" message
    customer_wrote_at: datetime | None = None


class Responder:
    """The rag service's brain: one instance per process, wired in `main.py`."""

    def __init__(
        self,
        settings: RagSettings,
        db: Database,
        redis: Redis,
        publisher: EventPublisher,
        embedder: Embedder,
        llm: LlmGateway,
        store: VectorStore | None = None,
    ) -> None:
        self.settings = settings
        self.db = db
        self.redis = redis
        self.publisher = publisher
        self.embedder = embedder
        self.llm = llm
        self.store = store or PgVectorStore()
        self.scheduler = TurnScheduler(redis, settings.turn_lease_seconds)
        self.support = SupportChecker(embedder.embed)
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._wake = asyncio.Event()  # claim now: a turn of ours fell due, a slot freed up, or stop
        self._full = False  # the last claim took every free slot
        self._running: set[asyncio.Task[None]] = set()

    # --- scheduling ---------------------------------------------------------------------

    async def schedule(self, key: TurnKey, immediate: bool) -> None:
        """Due after the debounce window (a dashboard chat request is answered at once).

        This process claims the turn the moment it falls due, not at its next poll: the poll remains
        for turns other replicas scheduled and for leases that ran out. Another replica may claim the
        turn first (or a later message push it out); the claim then finds nothing, which is harmless.
        """
        delay = 0.0 if immediate else self.settings.turn_window_seconds
        await self.scheduler.schedule(key, delay)
        if delay == 0:
            self._wake.set()
        else:
            asyncio.get_running_loop().call_later(delay + WAKE_SLACK_SECONDS, self._wake.set)

    def start(self) -> None:
        """Start the loop that runs due turns."""
        self._task = asyncio.create_task(self._loop(), name="rag-turns")

    async def stop(self) -> None:
        """Stop claiming; let turns in flight finish (each within `graceful_timeout`).

        The loop is asked to stop and ends at its next step, never in the middle of a claim: a
        cancellation delivered inside a Redis call was seen swallowed there, and the loop then slept on
        with its cancellation pending, keeping the process alive after SIGTERM. Cancelling stays the
        fallback, not awaited.
        """
        if self._task is not None:
            self._stopping = True
            self._wake.set()
            _, late = await asyncio.wait({self._task}, timeout=self.settings.graceful_timeout)
            if late:
                self._task.cancel()
                logger.warning("the turn loop did not stop when asked; cancelled")
        if self._running:
            await asyncio.wait(self._running, timeout=self.settings.graceful_timeout)

    async def _loop(self) -> None:
        interval = self.settings.turn_poll_interval_ms / 1000
        while not self._stopping:
            self._wake.clear()  # before the claim: a wake-up during it makes the next wait return at once
            try:
                free = self.settings.turn_concurrency - len(self._running)
                claimed = await self.scheduler.claim(free)
                self._full = len(claimed) == free  # every slot taken (or none was free): wake when one frees
                for key, lease in claimed:
                    task = asyncio.create_task(self._run(key, lease))
                    self._running.add(task)
                    task.add_done_callback(self._finished)
            except Exception:
                logger.exception("claiming turns failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), interval)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._running.discard(task)
        if self._full:  # due turns may be waiting for this slot
            self._full = False
            self._wake.set()

    async def _run(self, key: TurnKey, lease: float) -> None:
        try:
            await self.run_turn(key)
        except Exception:
            # The lease stays: the turn is retried when it expires.
            logger.exception("turn failed; retried after its lease", extra={"tenant_id": str(key.tenant_id)})
            return
        await self.scheduler.done(key, lease)

    # --- one turn -----------------------------------------------------------------------

    async def run_turn(self, key: TurnKey) -> None:
        """Answer every unanswered message of the conversation with one reply (or none)."""
        prepared = await self._prepare(key)
        if prepared is None:
            return
        answer = Answer("")
        if not prepared.handoff and prepared.request is not None:
            if await self._sources_cover(prepared.request):
                answer = await self.llm.answer(prepared.request, self._token_sink(key.tenant_id, prepared.request_id))
            if not answer.found and is_complaint(prepared.text):
                prepared.handoff = True
        await self._finish(key, prepared, answer)

    async def _sources_cover(self, request: AnswerRequest) -> bool:
        """False when the question is about something the sources never mention (fallback, no answer).

        Only for the local answerer: an LLM reads the sources and says itself when they don't hold
        the answer, while extraction would always find some sentence sharing a word with the question.
        """
        if self.llm.name != "local":
            return True
        missing = await self.support.unsupported_words(request.standalone_question, request.hits)
        if missing:
            logger.info("the sources do not cover the question", extra={"words": len(missing)})
        return not missing

    async def _prepare(self, key: TurnKey) -> PreparedTurn | None:
        async with self.db.transaction(key.tenant_id) as session:
            conversations = ConversationRepository(session, key.tenant_id)
            messages = MessageRepository(session, key.tenant_id)
            conversation = await conversations.by_customer(key.channel, key.customer_id)
            if conversation is None:
                return None
            pending = list(await messages.unanswered(conversation.id))
            if not pending:
                return None
            if conversation.status == "handoff" or (
                conversation.channel_id is not None
                and (await conversations.channel_status(conversation.channel_id)) not in (None, "active")
            ):
                await messages.mark_answered([m.id for m in pending])  # stored; a human answers
                return None
            settings = await read_bot_settings(session, key.tenant_id)
            text = "\n".join(m.text for m in pending if m.text).strip()
            prepared = PreparedTurn(
                conversation_id=conversation.id,
                channel=conversation.channel,
                channel_id=conversation.channel_id,
                customer_id=conversation.customer_id,
                pending_ids=[m.id for m in pending],
                in_reply_to=pending[-1].platform_message_id,
                customer_wrote_at=max(m.sent_at for m in pending),
                request_id=pending[-1].request_id,
                text=text,
                settings=settings,
                handoff=asks_for_human(text),
                request=None,
                media_only=not text and any(m.kind in MEDIA_KINDS for m in pending),
            )
            if prepared.handoff or not text:
                return prepared
            pending_ids = set(prepared.pending_ids)
            earlier = [
                m
                for m in await messages.recent(conversation.id, self.settings.history_turns * 2 + len(pending))
                if m.id not in pending_ids and m.text
            ]
            history = [Turn("user" if m.direction == "in" else "assistant", m.text or "") for m in earlier]
            previous_questions = [m.text or "" for m in earlier if m.direction == "in"]
            standalone = rewrite_follow_up(text, previous_questions)
            [embedding] = await self.embedder.embed([standalone])
            top_k = settings.top_k if self.llm.name != "local" else max(settings.top_k, 12)
            hits: list[KnowledgeHit] = await search(
                session,
                key.tenant_id,
                embedding,
                search_text(standalone),
                top_k=top_k,
                min_score=settings.min_score,
                embedding_model=self.embedder.model,
                store=self.store,
            )
            prepared.request = AnswerRequest(
                question=text,
                standalone_question=standalone,
                language=detect_language(text),
                hits=hits,
                history=history,
                settings=settings,
                history_token_budget=self.settings.history_token_budget,
                context_token_budget=self.settings.context_token_budget,
            )
            return prepared

    async def _finish(self, key: TurnKey, prepared: PreparedTurn, answer: Answer) -> None:
        settings = prepared.settings
        language = detect_language(prepared.text) if prepared.text else settings.default_language
        fallback = not prepared.handoff and not prepared.media_only and not answer.found
        sources: list[dict[str, object]] = []
        if prepared.media_only:
            text = settings.text_only_message
        elif prepared.handoff:
            text = settings.handoff_message
            if language == "ar" and text == DEFAULTS.handoff_message:
                text = ARABIC_HANDOFF
        elif fallback:
            text = settings.fallback_message
            if language == "ar" and text == DEFAULTS.fallback_message:
                text = ARABIC_FALLBACK
            elif language != "ar":
                text += HUMAN_OFFER
        else:
            text = answer.text
            assert prepared.request is not None
            sources = source_payloads(prepared.request, answer.source_indexes)
        reply = ReplyReady(
            tenant_id=key.tenant_id,
            payload=ReplyReadyPayload(
                conversation_id=prepared.conversation_id,
                message_id=reply_message_id(prepared.pending_ids),
                channel=prepared.channel,  # type: ignore[arg-type]
                channel_id=prepared.channel_id,
                recipient_id=prepared.customer_id,
                text=text,
                author="bot",
                in_reply_to_platform_message_id=prepared.in_reply_to,
                sources=[Source.model_validate(s) for s in sources],
                handoff=prepared.handoff,
                fallback=fallback,
                options=["human"] if fallback else [],
                request_id=prepared.request_id,
                customer_wrote_at=prepared.customer_wrote_at,
            ),
        )
        # The reply is published inside the transaction that stores it and marks the turn's messages
        # answered, before the commit: a crash or a failed commit after the publish leaves the messages
        # unanswered, the turn's lease runs out and the turn runs again, publishing under the same
        # message id (derived from the messages it answers), which the channel sender delivers once.
        # Publishing after the commit would lose the reply in a crash between the two.
        async with self.db.transaction(key.tenant_id) as session:
            conversations = ConversationRepository(session, key.tenant_id)
            messages = MessageRepository(session, key.tenant_id)
            conversation = await conversations.lock(prepared.conversation_id)
            if conversation is None or conversation.status == "handoff":
                return
            still_pending = [m.id for m in await messages.unanswered(conversation.id)]
            if still_pending != prepared.pending_ids:
                return  # a newer message arrived (its own turn answers everything) or another turn answered
            reply_id = await messages.add_outbound(
                message_id=reply.payload.message_id, conversation_id=conversation.id, author="bot", text=text,
                sources=sources,
            )  # fmt: skip
            await self.publisher.publish(reply, request_id=prepared.request_id)
            if prepared.handoff:
                await self.publisher.publish(status_event(key.tenant_id, prepared.conversation_id, "handoff", "bot"))
            await messages.mark_answered(prepared.pending_ids)
            if prepared.handoff:
                await conversations.set_status(conversation.id, "handoff")
            await conversations.touch(conversation.id)
        if prepared.request_id:
            update = ChatUpdate(
                type="reply",
                text=text,
                conversation_id=prepared.conversation_id,
                message_id=reply_id,
                sources=sources,
                handoff=prepared.handoff,
                fallback=fallback,
            )
            await self.redis.publish(chat_channel(key.tenant_id, prepared.request_id), update.model_dump_json())

    def _token_sink(self, tenant_id: UUID, request_id: str | None):  # type: ignore[no-untyped-def]
        if not request_id:
            return None
        channel = chat_channel(tenant_id, request_id)

        async def send(token: str) -> None:
            await self.redis.publish(channel, ChatUpdate(type="token", text=token).model_dump_json())

        return send
