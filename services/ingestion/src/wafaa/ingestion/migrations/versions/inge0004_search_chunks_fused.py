"""search_chunks_fused: hybrid search whose dense candidates come from a vector store outside Postgres

Revision ID: inge0004
Revises: inge0003
Create Date: 2026-11-27 10:00:00
"""

from collections.abc import Sequence

from alembic import op

from wafaa.common.db.migrations import grant_function

revision: str = "inge0004"
down_revision: str | None = "inge0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SIGNATURE = "ingestion.search_chunks_fused(uuid, uuid[], double precision[], text, integer, integer)"

# With VECTOR_DB_PROVIDER=pinecone the caller brings the dense candidates (chunk ids and cosine
# similarities from the tenant's namespace); this function keeps only those that are live rows of
# the tenant, so a vector whose row is not committed (or is gone, or expired, or another tenant's)
# is never returned. The full-text side and the fusion are those of `ingestion.search_chunks` (inge0002):
# reciprocal rank fusion with k = 60, ties broken by similarity then chunk id. Each side reads the
# table itself (dense by primary key, full text within the tenant) rather than a shared CTE, which
# Postgres would materialise for the whole tenant. SECURITY INVOKER (the default): row-level
# security applies on top of its own tenant filter.
FUNCTION = """
CREATE OR REPLACE FUNCTION ingestion.search_chunks_fused(
    p_tenant_id uuid,
    p_dense_ids uuid[],
    p_dense_similarities double precision[],
    p_query text,
    p_top_k integer DEFAULT 10,
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
dense AS (
    SELECT d.id, d.sim, row_number() OVER (ORDER BY d.sim DESC, d.id) AS r
    FROM (
        SELECT m.id, max(m.sim) AS sim
        FROM unnest(p_dense_ids, p_dense_similarities) AS m(id, sim)
        JOIN ingestion.knowledge_chunks c ON c.id = m.id
        WHERE c.tenant_id = p_tenant_id AND (c.valid_to IS NULL OR c.valid_to > now()) AND m.sim IS NOT NULL
        GROUP BY m.id
        ORDER BY max(m.sim) DESC, m.id
        LIMIT p_candidates
    ) d
),
sparse AS (
    SELECT s.id, s.rank, row_number() OVER (ORDER BY s.rank DESC, s.id) AS r
    FROM (
        SELECT c.id, ts_rank_cd(c.search_vector, q.query) AS rank
        FROM ingestion.knowledge_chunks c, q
        WHERE q.query IS NOT NULL AND c.search_vector @@ q.query
          AND c.tenant_id = p_tenant_id AND (c.valid_to IS NULL OR c.valid_to > now())
        ORDER BY rank DESC, c.id
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
FROM fused f JOIN ingestion.knowledge_chunks c ON c.id = f.id AND c.tenant_id = p_tenant_id
ORDER BY f.score DESC, f.sim DESC NULLS LAST, c.id
LIMIT p_top_k
$fn$;
"""


def upgrade() -> None:
    op.execute(FUNCTION)
    grant_function(SIGNATURE)


def downgrade() -> None:
    op.execute(f"DROP FUNCTION IF EXISTS {SIGNATURE}")
