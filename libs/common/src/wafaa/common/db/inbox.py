"""Exactly-once effects over at-least-once delivery: the inbox row shares the effect's transaction."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar
from uuid import UUID

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from wafaa.common.db.engine import Database
from wafaa.common.events import Event
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

    async def run(event: E) -> None:
        async with db.transaction(event.tenant_id) as session:
            if not await record_once(session, inbox_model, event, group, consumer):
                EVENTS_DUPLICATE.labels(group, event.stream).inc()
                return
            await handler(session, event)

    run.__name__ = getattr(handler, "__name__", "handler")
    return run
