"""chunk embeddings, full text, document metadata and the search function

Revision ID: inge0002
Revises: inge0001
Create Date: 2026-11-26 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from pgvector.sqlalchemy import Vector
from sqlalchemy.dialects import postgresql

from wafaa.common.db.migrations import grant_function

revision: str = "inge0002"
down_revision: str | None = "inge0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

T = "knowledge_chunks"
S = "ingestion"

# Exact search per tenant: the tenant_id btree narrows to the tenant's rows, then every one of them is
# scored. No HNSW/IVF index: pgvector 0.6 filters *after* an approximate scan, which starves small
# tenants next to big ones (and has no iterative scans). Dense and full-text candidates are fused with
# reciprocal rank fusion (k = 60). SECURITY INVOKER (the default): row-level security still applies.
SEARCH_FUNCTION = """
CREATE OR REPLACE FUNCTION ingestion.search_chunks(
    p_tenant_id uuid,
    p_embedding vector,
    p_query text,
    p_top_k integer DEFAULT 10,
    p_min_score double precision DEFAULT 0,
    p_model text DEFAULT NULL,
    p_candidates integer DEFAULT 50
) RETURNS TABLE (
    chunk_id uuid, document_id uuid, title text, content text, location jsonb,
    score double precision, similarity double precision, text_rank real
)
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, public
AS $fn$
WITH q AS (
    SELECT CASE WHEN lexemes = '' THEN NULL ELSE to_tsquery('simple', lexemes) END AS query
    FROM (
        SELECT coalesce(string_agg(quote_literal(l), ' | '), '') AS lexemes
        FROM unnest(tsvector_to_array(to_tsvector('simple', coalesce(p_query, '')))) AS l
    ) words
),
live AS (
    SELECT c.* FROM ingestion.knowledge_chunks c
    WHERE c.tenant_id = p_tenant_id AND (c.valid_to IS NULL OR c.valid_to > now())
),
dense AS (
    SELECT d.id, d.sim, row_number() OVER (ORDER BY d.dist, d.id) AS r
    FROM (
        SELECT l.id, l.embedding <=> p_embedding AS dist, 1 - (l.embedding <=> p_embedding) AS sim
        FROM live l
        WHERE p_embedding IS NOT NULL AND l.embedding IS NOT NULL
          AND vector_dims(l.embedding) = vector_dims(p_embedding)
          AND (p_model IS NULL OR l.embedding_model = p_model)
        ORDER BY l.embedding <=> p_embedding, l.id
        LIMIT p_candidates
    ) d
    WHERE d.sim >= p_min_score
),
sparse AS (
    SELECT s.id, s.rank, row_number() OVER (ORDER BY s.rank DESC, s.id) AS r
    FROM (
        SELECT l.id, ts_rank_cd(l.search_vector, q.query) AS rank
        FROM live l, q
        WHERE q.query IS NOT NULL AND l.search_vector @@ q.query
        ORDER BY rank DESC, l.id
        LIMIT p_candidates
    ) s
),
fused AS (
    SELECT coalesce(dense.id, sparse.id) AS id,
           coalesce(1.0 / (60 + dense.r), 0) + coalesce(1.0 / (60 + sparse.r), 0) AS score,
           dense.sim, sparse.rank
    FROM dense FULL OUTER JOIN sparse ON dense.id = sparse.id
)
SELECT c.id, c.document_id, c.title, c.text, c.location, f.score::double precision, f.sim, f.rank
FROM fused f JOIN live c ON c.id = f.id
ORDER BY f.score DESC, f.sim DESC NULLS LAST, c.id
LIMIT p_top_k
$fn$;
"""


def upgrade() -> None:
    op.add_column(T, sa.Column("embedding", Vector(), nullable=True), schema=S)
    op.add_column(T, sa.Column("embedding_provider", sa.String(32), nullable=False, server_default=""), schema=S)
    op.add_column(T, sa.Column("embedding_model", sa.String(128), nullable=False, server_default=""), schema=S)
    op.add_column(T, sa.Column("title", sa.Text(), nullable=False, server_default=""), schema=S)
    op.add_column(T, sa.Column("tags", postgresql.ARRAY(sa.Text()), nullable=False, server_default="{}"), schema=S)
    op.add_column(T, sa.Column("valid_from", sa.DateTime(timezone=True), nullable=True), schema=S)
    op.add_column(T, sa.Column("valid_to", sa.DateTime(timezone=True), nullable=True), schema=S)
    # 'simple': no stemming and no stop words, so Arabic and English words, prices and names all index as written.
    op.add_column(
        T,
        sa.Column(
            "search_vector",
            postgresql.TSVECTOR(),
            sa.Computed("to_tsvector('simple', title || ' ' || text)", persisted=True),
            nullable=False,
        ),
        schema=S,
    )
    op.create_index("ix_knowledge_chunks_search_vector", T, ["search_vector"], schema=S, postgresql_using="gin")
    op.create_index("ix_knowledge_chunks_tenant_id_document_id", T, ["tenant_id", "document_id"], schema=S)
    op.execute(SEARCH_FUNCTION)
    grant_function("ingestion.search_chunks(uuid, vector, text, integer, double precision, text, integer)")


def downgrade() -> None:
    op.execute("DROP FUNCTION IF EXISTS ingestion.search_chunks(uuid, vector, text, integer, double precision, text, integer)")
    op.drop_index("ix_knowledge_chunks_tenant_id_document_id", table_name=T, schema=S)
    op.drop_index("ix_knowledge_chunks_search_vector", table_name=T, schema=S)
    for column in ("search_vector", "valid_to", "valid_from", "tags", "title", "embedding_model", "embedding_provider", "embedding"):
        op.drop_column(T, column, schema=S)
