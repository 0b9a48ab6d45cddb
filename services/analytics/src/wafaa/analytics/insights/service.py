"""Turning conversation events into insights and rollups, each counted once whatever the order."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from wafaa.analytics.insights import gaps, intents, language, sentiment
from wafaa.analytics.insights.models import ConversationFact, KnowledgeGap, Reply
from wafaa.analytics.insights.repository import (
    ConversationRepository,
    DeliveryRepository,
    GapRepository,
    InsightRepository,
    ReplyRepository,
    RollupRepository,
)
from wafaa.common.events import (
    ConversationStatusChanged,
    DeliveryStatusChanged,
    MessageReceived,
    ReplyFailed,
    ReplyReady,
    ReplySent,
)
from wafaa.common.tenancy.timezone import read_timezone

GAP_INTENTS = frozenset({"question", "order_inquiry", "other"})
MAX_GAP_EXAMPLES = 5


class Context:
    """The tenant's repositories and time zone for one event."""

    def __init__(self, session: AsyncSession, tenant_id: Any, tz: ZoneInfo) -> None:
        self.insights = InsightRepository(session, tenant_id)
        self.replies = ReplyRepository(session, tenant_id)
        self.conversations = ConversationRepository(session, tenant_id)
        self.deliveries = DeliveryRepository(session, tenant_id)
        self.rollups = RollupRepository(session, tenant_id)
        self.gaps = GapRepository(session, tenant_id)
        self.tz = tz

    def local(self, when: datetime) -> tuple[Any, int]:
        """The tenant-local day and hour of an instant."""
        moment = when.astimezone(self.tz)
        return moment.date(), moment.hour


async def _context(session: AsyncSession, tenant_id: Any) -> Context:
    return Context(session, tenant_id, await read_timezone(session, tenant_id))


async def record_inbound(session: AsyncSession, event: MessageReceived) -> None:
    """A customer message: its language, sentiment, emoji and intent, and the day's counters."""
    p = event.payload
    ctx = await _context(session, event.tenant_id)
    lang = language.detect_language(p.text)
    mood = sentiment.analyse(p.text, lang)
    emoji = language.count_emoji(p.text)
    intent = intents.classify(p.text)
    await ctx.insights.lock_thread(p.channel, p.customer_id)
    fresh = await ctx.insights.add_once(
        direction="in",
        message_ref=p.platform_message_id,
        channel=p.channel,
        customer_id=p.customer_id,
        author="customer",
        text_length=len(p.text or ""),
        occurred_at=p.received_at,
        language=lang,
        sentiment=mood.label,
        sentiment_score=mood.score,
        emoji_count=emoji,
        intent=intent,
        excerpt=(p.text or "")[:500] or None,
    )
    if not fresh:  # the platform sent the same message twice (another event id)
        return
    day, hour = ctx.local(p.received_at)
    await ctx.rollups.hourly(day, hour, p.channel, messages_in=1)
    await ctx.rollups.customer_day(day, p.channel, p.customer_id)
    await ctx.rollups.sentiment(day, p.channel, lang, mood.label, mood.score, emoji)
    await ctx.rollups.intent(day, p.channel, intent)
    for early in await ctx.replies.waiting_for(p.platform_message_id):  # the reply was processed first
        if early.author == "bot":
            await _settle_reply(ctx, await ctx.replies.upsert(early.message_id, started_at=p.received_at))


async def record_outbound(session: AsyncSession, event: ReplyReady) -> None:
    """A reply of the bot or an agent: what it answered, since when the customer waited."""
    p = event.payload
    ctx = await _context(session, event.tenant_id)
    await ctx.insights.lock_thread(p.channel, p.recipient_id)
    fresh = await ctx.insights.add_once(
        direction="out",
        message_ref=str(p.message_id),
        channel=p.channel,
        customer_id=p.recipient_id,
        author=p.author,
        text_length=len(p.text),
        occurred_at=event.occurred_at,
    )
    if not fresh:
        return
    answered = (
        await ctx.insights.inbound(p.in_reply_to_platform_message_id) if p.in_reply_to_platform_message_id else None
    )
    if answered is not None and p.author == "bot":
        started = answered.occurred_at
    else:
        previous = await ctx.replies.last_ready(p.channel, p.recipient_id, p.author, event.occurred_at, p.message_id)
        started = await ctx.insights.first_waiting(p.channel, p.recipient_id, previous, event.occurred_at)
    reply = await ctx.replies.upsert(
        p.message_id,
        conversation_id=p.conversation_id,
        channel=p.channel,
        recipient_id=p.recipient_id,
        author=p.author,
        in_reply_to=p.in_reply_to_platform_message_id,
        fallback=p.fallback,
        handoff=p.handoff,
        ready_at=event.occurred_at,
        started_at=started,
    )
    day, hour = ctx.local(event.occurred_at)
    await ctx.rollups.hourly(
        day,
        hour,
        p.channel,
        replies_bot=int(p.author == "bot"),
        replies_human=int(p.author == "human"),
        fallback_replies=int(p.author == "bot" and p.fallback),
        handoff_replies=int(p.author == "bot" and p.handoff),
    )
    conversation = await ctx.conversations.upsert(
        p.conversation_id,
        channel=p.channel,
        started_at=started or event.occurred_at,
        escalated=p.handoff or p.author == "human",
        answered=p.author == "bot" and not p.fallback and not p.handoff,
    )
    await _settle_conversation(ctx, conversation)
    await _settle_reply(ctx, reply)
    if p.author == "bot" and (p.fallback or p.handoff) and answered is not None and answered.intent in GAP_INTENTS:
        await _record_gap(ctx, answered.excerpt or "", p.channel, answered.occurred_at)


async def record_sent(session: AsyncSession, event: ReplySent) -> None:
    """The reply reached the platform: the customer's wait ends here."""
    p = event.payload
    ctx = await _context(session, event.tenant_id)
    reply = await ctx.replies.upsert(p.message_id, channel=p.channel, sent_at=event.occurred_at)
    day, hour = ctx.local(event.occurred_at)
    await ctx.rollups.hourly(day, hour, p.channel, replies_sent=1)
    await _settle_reply(ctx, reply)


async def record_failed(session: AsyncSession, event: ReplyFailed) -> None:
    """The sender gave up on a reply."""
    p = event.payload
    ctx = await _context(session, event.tenant_id)
    await ctx.replies.upsert(p.message_id, channel=p.channel, failed_at=event.occurred_at)
    day, hour = ctx.local(event.occurred_at)
    await ctx.rollups.hourly(day, hour, p.channel, replies_failed=1)
    await ctx.rollups.failure(day, p.channel, p.error_code or "unknown")


async def record_delivery_status(session: AsyncSession, event: DeliveryStatusChanged) -> None:
    """Delivered, read or failed at the platform: each counted once per message."""
    p = event.payload
    ctx = await _context(session, event.tenant_id)
    day, hour = ctx.local(p.status_at)
    if p.status in ("delivered", "read") and await ctx.deliveries.turn_on(p.platform_message_id, "delivered"):
        await ctx.rollups.hourly(day, hour, p.channel, delivered=1)
    if p.status == "read" and await ctx.deliveries.turn_on(p.platform_message_id, "read"):
        await ctx.rollups.hourly(day, hour, p.channel, read=1)
    if p.status == "failed" and await ctx.deliveries.turn_on(p.platform_message_id, "failed"):
        await ctx.rollups.hourly(day, hour, p.channel, status_failed=1)
        await ctx.rollups.failure(day, p.channel, p.error_code or "unknown")


async def record_conversation_status(session: AsyncSession, event: ConversationStatusChanged) -> None:
    """Handoff escalates a conversation; the first resolution ends its clock."""
    p = event.payload
    ctx = await _context(session, event.tenant_id)
    conversation = await ctx.conversations.upsert(
        p.conversation_id,
        escalated=p.status == "handoff",
        resolved_at=event.occurred_at if p.status == "resolved" else None,
    )
    await _settle_conversation(ctx, conversation)


async def _settle_reply(ctx: Context, reply: Reply) -> None:
    """Measure the response once the customer's first message and the send time are both known."""
    if reply.timed or reply.started_at is None or reply.sent_at is None or reply.author is None or not reply.channel:
        return
    seconds = max((reply.sent_at - reply.started_at).total_seconds(), 0.0)
    day, hour = ctx.local(reply.started_at)
    if await ctx.rollups.response_time(reply.author, reply.message_id, reply.channel, day, hour, seconds):
        if reply.author == "bot":
            await ctx.rollups.hourly(day, hour, reply.channel, bot_rt_count=1, bot_rt_sum=seconds)
        else:
            await ctx.rollups.hourly(day, hour, reply.channel, human_rt_count=1, human_rt_sum=seconds)
    await ctx.replies.mark_timed(reply.message_id)


async def _settle_conversation(ctx: Context, conv: ConversationFact) -> None:
    """Bring the start day's counters in line with the conversation's facts (each change once)."""
    if conv.channel is None or conv.started_at is None:
        return
    day, hour = ctx.local(conv.started_at)
    amounts: dict[str, Any] = {}
    flags: dict[str, Any] = {}
    if not conv.counted:
        amounts["conversations"] = 1
        flags["counted"] = True
    if conv.escalated and not conv.counted_escalated:
        amounts["escalated"] = 1
        flags["counted_escalated"] = True
    bot_resolved = conv.answered and not conv.escalated
    if bot_resolved != conv.counted_bot_resolved:
        amounts["bot_resolved"] = 1 if bot_resolved else -1
        flags["counted_bot_resolved"] = bot_resolved
    if conv.resolved_at is not None and not conv.resolution_timed:
        seconds = max((conv.resolved_at - conv.started_at).total_seconds(), 0.0)
        if await ctx.rollups.response_time("resolution", conv.conversation_id, conv.channel, day, hour, seconds):
            amounts.update(resolution_count=1, resolution_sum=seconds)
        flags["resolution_timed"] = True
    if amounts:
        await ctx.rollups.hourly(day, hour, conv.channel, **amounts)
    if flags:
        await ctx.conversations.mark(conv.conversation_id, **flags)


async def _record_gap(ctx: Context, text: str, channel: str, when: datetime) -> None:
    """Add an unanswered question to the most similar gap, or open a new one."""
    words = gaps.terms(text)
    if not words:
        return
    best: KnowledgeGap | None = None
    best_score = 0.0
    for candidate in await ctx.gaps.candidates(words):
        score = gaps.similarity(words, candidate.terms)
        if score >= gaps.SIMILARITY and score > best_score:
            best, best_score = candidate, score
    if best is None:
        best = ctx.gaps.add(KnowledgeGap(terms=words, label=text[:300], examples=[], occurrences=0, last_seen_at=when))
    examples = list(best.examples or [])
    if len(examples) < MAX_GAP_EXAMPLES and text not in examples:
        examples.append(text)
    best.examples = examples
    best.occurrences = (best.occurrences or 0) + 1
    best.last_seen_at = max(best.last_seen_at, when) if best.last_seen_at else when
    await ctx.gaps.session.flush()
    day, _ = ctx.local(when)
    await ctx.rollups.gap(day, channel, best.id)
