"""Per-tenant search indexes for large tenants: `wafaa-search-indexes` / `python -m wafaa.ingestion.search_indexes`.

`ingestion.search_chunks` scores every vector of a tenant exactly, which is fast (and has perfect
recall) for the usual tenant of a few hundred to a few thousand chunks. A tenant whose chunks of one
embedding model reach `KNOWLEDGE_ANN_MIN_CHUNKS` gets an HNSW partial index of its own, and one with
`KNOWLEDGE_FTS_MIN_CHUNKS` chunks a full-text one:
- an HNSW index on `embedding::vector(<dims>)` for that (tenant, model): approximate nearest
  neighbours (pgvector 0.6 filters only after an index scan, so a shared HNSW index would starve
  small tenants; a partial one holds only this tenant's rows);
- a GIN index on `search_vector` for the tenant (the shared one's posting lists span all tenants).
The search function finds them by name (`ingestion.ann_index_name`, `ingestion.fts_index_name`) and
uses them only once they are valid. Indexes of tenants that shrink below half their threshold are
dropped (the gap keeps a tenant near the threshold from being rebuilt back and forth).

Index DDL needs the table's owner, so this runs with DATABASE_ADMIN_URL (as the migrate step does;
the services' role owns nothing), and CREATE INDEX CONCURRENTLY, so uploads and searches go on
while an index builds. An advisory lock keeps two maintainers from building at once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from uuid import UUID

import asyncpg

from wafaa.ingestion.config import SearchIndexSettings
from wafaa.ingestion.search_indexes import repository

log = logging.getLogger("wafaa.search_indexes")


@dataclass(frozen=True)
class IndexPlan:
    """What one pass decided: indexes to build (name → DDL) and indexes to drop."""

    build: dict[str, str]
    drop: list[str]


async def plan(conn: asyncpg.Connection, settings: SearchIndexSettings) -> IndexPlan:
    """Compare the tenants' sizes with the indexes that exist."""
    ann_threshold = settings.knowledge_ann_min_chunks
    fts_threshold = settings.knowledge_fts_min_chunks
    existing = await repository.existing_indexes(conn)
    keep: set[str] = set()
    build: dict[str, str] = {}
    tenant_totals: dict[UUID, int] = {}
    for group in await repository.chunk_groups(conn, max(min(ann_threshold, fts_threshold) // 2, 1)):
        tenant_totals[group.tenant_id] = tenant_totals.get(group.tenant_id, 0) + group.chunks
        if group.chunks < ann_threshold // 2:
            continue
        dims = await repository.dimensions(conn, group)
        if dims is None:
            continue
        name = await repository.ann_index_name(conn, group.tenant_id, group.model, dims)
        keep.add(name)
        if group.chunks >= ann_threshold and not existing.get(name, False):
            build[name] = repository.hnsw_ddl(
                name, group, dims, settings.knowledge_ann_m, settings.knowledge_ann_ef_construction
            )
    for tenant_id, total in tenant_totals.items():
        if total < fts_threshold // 2:
            continue
        name = await repository.fts_index_name(conn, tenant_id)
        keep.add(name)
        if total >= fts_threshold and not existing.get(name, False):
            build[name] = repository.fts_ddl(name, tenant_id)
    return IndexPlan(build=build, drop=sorted(name for name in existing if name not in keep))


async def maintain(admin_url: str, settings: SearchIndexSettings) -> IndexPlan:
    """One pass: build the missing (or invalid) indexes of large tenants, drop those no longer needed."""
    conn: asyncpg.Connection = await asyncpg.connect(admin_url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        if not await repository.try_lock(conn):
            log.info("another maintainer holds the lock; skipping this pass")
            return IndexPlan(build={}, drop=[])
        try:
            todo = await plan(conn, settings)
            for name in todo.drop:
                await repository.drop(conn, name)
                log.info("dropped search index", extra={"index": name})
            for name, ddl in todo.build.items():
                started = time.monotonic()
                await repository.build(conn, name, ddl, settings.knowledge_index_work_mem)
                log.info("built search index", extra={"index": name, "seconds": round(time.monotonic() - started, 1)})
            return todo
        finally:
            await repository.unlock(conn)
    finally:
        await conn.close()


async def _heartbeat(path: Path, every: float = 10.0) -> None:
    """Touch `path` while the event loop runs (the container's health check reads its age)."""
    while True:
        await asyncio.to_thread(path.touch)
        await asyncio.sleep(every)


async def run(settings: SearchIndexSettings, *, once: bool) -> int:
    """Maintain once, or every KNOWLEDGE_INDEX_INTERVAL_SECONDS until stopped."""
    if settings.database_admin_url is None:
        log.error("DATABASE_ADMIN_URL is not set (index DDL needs the tables' owner)")
        return 2
    admin_url = settings.database_admin_url.get_secret_value()
    heartbeat = None
    if settings.knowledge_index_heartbeat_file and not once:
        heartbeat = asyncio.create_task(_heartbeat(Path(settings.knowledge_index_heartbeat_file)))
    try:
        while True:
            try:
                done = await maintain(admin_url, settings)
                if done.build or done.drop:
                    log.info("search indexes updated", extra={"built": len(done.build), "dropped": len(done.drop)})
            except (OSError, asyncpg.PostgresError) as exc:
                if once:
                    raise
                log.warning("search index pass failed; retrying next interval", extra={"error": str(exc)})
            if once:
                return 0
            await asyncio.sleep(settings.knowledge_index_interval_seconds)
    finally:
        if heartbeat is not None:
            heartbeat.cancel()
