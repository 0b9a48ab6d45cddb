"""Exactly-once effects over at-least-once delivery: the inbox row shares the effect's transaction."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar
from uuid import UUID

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from wafaa.common.db.engine import Database
from wafaa.common.events import Event
from wafaa.common.observability.logging import log_context
from wafaa.common.observability.metrics import EVENTS_DUPLICATE

E = TypeVar("E", bound=Event[Any])
TransactionalHandler = Callable[[AsyncSession, E], Awaitable[None]]


async def record_once(
    session: AsyncSession, inbox_model: type[Any], event: Event[Any], group: str, consumer: str
) -> bool:
    """Insert the inbox row; False when this group already applied the event.

    A concurrent duplicate blocks on the primary key until the first transaction ends, then
    sees the conflict: two replicas can never both apply one event.
    """
    return bool(await record_many(session, inbox_model, event.tenant_id, [event.event_id], group, consumer))


async def record_many(
    session: AsyncSession,
    inbox_model: type[Any],
    tenant_id: UUID,
    event_ids: Sequence[UUID],
    group: str,
    consumer: str,
) -> set[UUID]:
    """Insert the inbox rows of several events of one tenant; the ids this group had not applied before.

    One statement (executemany with RETURNING, sent as one multi-row INSERT); concurrent duplicates
    behave as in `record_once`.
    """
    if not event_ids:
        return set()
    rows = [
        {"tenant_id": tenant_id, "consumer_group": group, "event_id": event_id, "consumer": consumer}
        for event_id in event_ids
    ]
    stmt = insert(inbox_model).on_conflict_do_nothing().returning(inbox_model.event_id)
    return set((await session.execute(stmt, rows)).scalars())


def exactly_once(
    db: Database, inbox_model: type[Any], group: str, consumer: str, handler: TransactionalHandler[E]
) -> Callable[[E], Awaitable[None]]:
    """Wrap a handler so it runs in one tenant transaction that also records the event in the inbox."""
    together = exactly_once_together(db, inbox_model, group, consumer, handler)

    async def run(event: E) -> None:
        await together((event,))

    run.__name__ = getattr(handler, "__name__", "handler")
    return run


def exactly_once_together(
    db: Database, inbox_model: type[Any], group: str, consumer: str, handler: TransactionalHandler[E]
) -> Callable[[Sequence[E]], Awaitable[None]]:
    """`exactly_once` for a whole batch of events in one transaction (a group commit).

    Each event runs as it would alone: under its own tenant (set again when the tenant changes), after
    its inbox row, and its changes are flushed and the session's objects forgotten before the next
    event starts, so every handler reads what the events before it wrote and nothing of their objects.
    Only the transaction's start, its commit and a repeated tenant context are saved: three or four of
    the dozen round trips to Postgres of a typical event. Any error rolls back the whole batch; the
    caller then handles the events one by one (see `EventConsumer.subscribe`), so `handler` must have
    no effect outside the transaction.
    """

    async def run(events: Sequence[E]) -> None:
        duplicates = 0
        async with db.transaction(events[0].tenant_id) as session:
            tenant = events[0].tenant_id
            for event in events:
                if event.tenant_id != tenant:
                    tenant = event.tenant_id
                    await db.enter_tenant(session, tenant)
                if not await record_once(session, inbox_model, event, group, consumer):
                    duplicates += 1
                    continue
                with log_context(tenant_id=str(event.tenant_id), event_id=str(event.event_id)):
                    await handler(session, event)
                await session.flush()
                session.expunge_all()
        if duplicates:
            EVENTS_DUPLICATE.labels(group, events[0].stream).inc(duplicates)

    run.__name__ = f"{getattr(handler, '__name__', 'handler')}_together"
    return run
