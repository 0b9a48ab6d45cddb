"""Catalog queries and index DDL for the per-tenant search indexes.

These run on the admin connection of `wafaa-search-indexes` (index DDL needs the table's owner):
they read chunk counts across tenants, which no tenant-scoped repository may, and touch no rows.
"""

from __future__ import annotations

from uuid import UUID

import asyncpg

from wafaa.ingestion.search_indexes.schemas import ChunkGroup

TABLE = "ingestion.knowledge_chunks"
LOCK_KEY = 7_302_612  # advisory lock: one maintainer builds at a time


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


async def chunk_groups(conn: asyncpg.Connection, at_least: int) -> list[ChunkGroup]:
    """(tenant, model) groups with at least `at_least` embedded chunks (counting reads no vectors)."""
    rows = await conn.fetch(
        f"SELECT tenant_id, embedding_model, count(*) AS n FROM {TABLE} "
        "WHERE embedding IS NOT NULL GROUP BY tenant_id, embedding_model HAVING count(*) >= $1",
        at_least,
    )
    return [ChunkGroup(r["tenant_id"], r["embedding_model"], r["n"]) for r in rows]


async def dimensions(conn: asyncpg.Connection, group: ChunkGroup) -> int | None:
    """The vectors' dimension in a group (one row read)."""
    value = await conn.fetchval(
        f"SELECT vector_dims(embedding) FROM {TABLE} "
        "WHERE tenant_id = $1 AND embedding_model = $2 AND embedding IS NOT NULL LIMIT 1",
        group.tenant_id,
        group.model,
    )
    return None if value is None else int(value)


async def ann_index_name(conn: asyncpg.Connection, tenant_id: UUID, model: str, dims: int) -> str:
    """The HNSW index's name, as the search function derives it."""
    return str(await conn.fetchval("SELECT ingestion.ann_index_name($1, $2, $3)", tenant_id, model, dims))


async def fts_index_name(conn: asyncpg.Connection, tenant_id: UUID) -> str:
    """The full-text index's name, as the search function derives it."""
    return str(await conn.fetchval("SELECT ingestion.fts_index_name($1)", tenant_id))


async def existing_indexes(conn: asyncpg.Connection) -> dict[str, bool]:
    """Every per-tenant search index there is, and whether it is valid (a failed CONCURRENTLY build is not)."""
    rows = await conn.fetch(
        "SELECT ix.relname, i.indisvalid FROM pg_class ix JOIN pg_index i ON i.indexrelid = ix.oid "
        "WHERE ix.relnamespace = 'ingestion'::regnamespace "
        "AND (ix.relname LIKE 'kc\\_ann\\_%' OR ix.relname LIKE 'kc\\_fts\\_%')"
    )
    return {r["relname"]: bool(r["indisvalid"]) for r in rows}


def hnsw_ddl(name: str, group: ChunkGroup, dims: int, m: int, ef_construction: int) -> str:
    """CREATE INDEX CONCURRENTLY of a (tenant, model) HNSW partial index on the vectors cast to their size."""
    return (
        f"CREATE INDEX CONCURRENTLY {name} ON {TABLE} USING hnsw "
        f"((embedding::vector({int(dims)})) vector_cosine_ops) "
        f"WITH (m = {int(m)}, ef_construction = {int(ef_construction)}) "
        f"WHERE tenant_id = {_literal(str(group.tenant_id))} AND embedding_model = {_literal(group.model)}"
    )


def fts_ddl(name: str, tenant_id: UUID) -> str:
    """CREATE INDEX CONCURRENTLY of a tenant's full-text GIN partial index."""
    return (
        f"CREATE INDEX CONCURRENTLY {name} ON {TABLE} USING gin (search_vector) "
        f"WHERE tenant_id = {_literal(str(tenant_id))}"
    )


async def build(conn: asyncpg.Connection, name: str, ddl: str, work_mem: str) -> None:
    """Build one index (replacing an invalid leftover of an interrupted build), then refresh statistics."""
    await conn.execute(f"SET maintenance_work_mem = {_literal(work_mem)}")
    await drop(conn, name)
    await conn.execute(ddl, timeout=None)
    await conn.execute(f"ANALYZE {TABLE}")


async def drop(conn: asyncpg.Connection, name: str) -> None:
    """Drop one index without blocking writes."""
    await conn.execute(f"DROP INDEX CONCURRENTLY IF EXISTS ingestion.{name}")


async def try_lock(conn: asyncpg.Connection) -> bool:
    """The maintainers' advisory lock, if free."""
    return bool(await conn.fetchval("SELECT pg_try_advisory_lock($1)", LOCK_KEY))


async def unlock(conn: asyncpg.Connection) -> None:
    """Release the maintainers' advisory lock."""
    await conn.fetchval("SELECT pg_advisory_unlock($1)", LOCK_KEY)
