"""search at scale: custom plans, bounded full text, per-tenant indexes, dense and text apart

Revision ID: inge0005
Revises: inge0004
Create Date: 2026-11-25 22:30:00
"""

from collections.abc import Sequence

from alembic import op

from wafaa.common.db.migrations import earlier_revision, grant_function

revision: str = "inge0005"
down_revision: str | None = "inge0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SIGNATURE = "ingestion.search_chunks(uuid, vector, text, integer, double precision, text, integer)"
PARTS = {
    "ingestion.search_dense(uuid, vector, double precision, text, integer)": "DENSE_FUNCTION",
    "ingestion.search_text(uuid, text, integer, integer)": "TEXT_FUNCTION",
    "ingestion.search_fuse(uuid, uuid[], double precision[], uuid[], real[], integer)": "FUSE_FUNCTION",
}

# The names of the per-tenant partial indexes `wafaa-search-indexes` builds for large tenants.
# The search function looks them up by name, so both sides derive them from here.
ANN_INDEX_NAME = """
CREATE OR REPLACE FUNCTION ingestion.ann_index_name(p_tenant_id uuid, p_model text, p_dims integer)
RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $fn$ SELECT 'kc_ann_' || replace(p_tenant_id::text, '-', '') || '_' || p_dims || '_' || left(md5(p_model), 8) $fn$
"""
FTS_INDEX_NAME = """
CREATE OR REPLACE FUNCTION ingestion.fts_index_name(p_tenant_id uuid)
RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $fn$ SELECT 'kc_fts_' || replace(p_tenant_id::text, '-', '') $fn$
"""

# plpgsql with EXECUTE: every query is planned for this call's tenant (a custom plan), so a
# 200-chunk tenant walks its btree range while a 100,000-chunk tenant uses its own indexes. A LANGUAGE
# sql function gets one generic plan for all tenants and materialises a CTE over the tenant's rows.
#
# Dense side: exact (every vector of the tenant scored) unless the tenant has a valid HNSW partial
# index for this model, built by `wafaa-search-indexes` once it passes a size threshold; then the
# index answers (approximate, ef_search at least twice the candidates).
# Full-text side: chunks with all the query's words first (few, and the most relevant); only when
# they are fewer than the candidates are chunks with any of the words ranked too. Each step ranks at
# most `text_sample` matching chunks (an eighth of it beyond `small_tenant` chunks, where a query of
# common words can match thousands). For a tenant beyond `small_tenant` chunks, "any of the words" leaves out
# words in more than `common_word` of all chunks (ANALYZE's most common elements of the tsvector
# column): such a word ("the", "من") would match most of a large tenant and say little; chunks with it
# still rank higher when they also have the rarer words.
# Fusion: reciprocal rank fusion (k = 60), as before.
#
# Three functions, one per step, `search_dense`, `search_text` and `search_fuse`; `search_chunks` keeps
# its signature and runs them in turn. (Running the two sides at once on two connections was measured:
# 1.5 ms less at p50 for the 100,000-chunk tenant on 2 cores, not worth a second connection per search.)
#
# search_dense and search_text are SECURITY DEFINER, guarded: the caller's transaction must be scoped to `p_tenant_id` (the
# `app.tenant_id` setting row-level security reads), and every query inside filters on it. Under
# row-level security as the caller, Postgres may not use an index for `@@` (not leakproof, so it has
# to run after the policy), and the full-text side would read every chunk of the tenant.
DENSE_FUNCTION = """
CREATE OR REPLACE FUNCTION ingestion.search_dense(
    p_tenant_id uuid,
    p_embedding vector,
    p_min_score double precision DEFAULT 0,
    p_model text DEFAULT NULL,
    p_candidates integer DEFAULT 50
) RETURNS TABLE (chunk_id uuid, similarity double precision)
LANGUAGE plpgsql STABLE PARALLEL SAFE SECURITY DEFINER
SET search_path = pg_catalog, public
AS $fn$
#variable_conflict use_column
DECLARE
    v_dims integer := CASE WHEN p_embedding IS NULL THEN NULL ELSE vector_dims(p_embedding) END;
    v_index text;
    v_dense_ids uuid[];
    v_dense_sims double precision[];
BEGIN
    IF p_tenant_id IS DISTINCT FROM NULLIF(current_setting('app.tenant_id', true), '')::uuid THEN
        RAISE EXCEPTION 'search_dense: the transaction is not scoped to this tenant' USING ERRCODE = '42501';
    END IF;
    IF p_embedding IS NOT NULL THEN
        IF p_model IS NOT NULL THEN
            SELECT ix.relname INTO v_index
            FROM pg_class ix JOIN pg_index i ON i.indexrelid = ix.oid
            WHERE ix.relnamespace = 'ingestion'::regnamespace
              AND ix.relname = ingestion.ann_index_name(p_tenant_id, p_model, v_dims)
              AND i.indisvalid;
        END IF;
        IF v_index IS NOT NULL THEN
            PERFORM set_config('hnsw.ef_search', greatest(2 * p_candidates, 100)::text, true);
            EXECUTE format(
                'SELECT array_agg(d.id ORDER BY d.dist, d.id), array_agg(1 - d.dist ORDER BY d.dist, d.id) FROM ('
                '  SELECT c.id, c.embedding::vector(%1$s) <=> $1::vector(%1$s) AS dist'
                '  FROM ingestion.knowledge_chunks c'
                '  WHERE c.tenant_id = %2$L AND c.embedding_model = %3$L'
                '    AND (c.valid_to IS NULL OR c.valid_to > now())'
                '  ORDER BY c.embedding::vector(%1$s) <=> $1::vector(%1$s)'
                '  LIMIT $2'
                ') d WHERE 1 - d.dist >= $3',
                v_dims, p_tenant_id, p_model)
            INTO v_dense_ids, v_dense_sims
            USING p_embedding, p_candidates, p_min_score;
        ELSE
            EXECUTE format(
                'SELECT array_agg(d.id ORDER BY d.dist, d.id), array_agg(1 - d.dist ORDER BY d.dist, d.id) FROM ('
                '  SELECT c.id, c.embedding <=> $1 AS dist'
                '  FROM ingestion.knowledge_chunks c'
                '  WHERE c.tenant_id = %1$L AND (c.valid_to IS NULL OR c.valid_to > now())'
                '    AND c.embedding IS NOT NULL AND vector_dims(c.embedding) = $4'
                '    AND ($5::text IS NULL OR c.embedding_model = $5::text)'
                '  ORDER BY c.embedding <=> $1, c.id'
                '  LIMIT $2'
                ') d WHERE 1 - d.dist >= $3',
                p_tenant_id)
            INTO v_dense_ids, v_dense_sims
            USING p_embedding, p_candidates, p_min_score, v_dims, p_model;
        END IF;
    END IF;
    RETURN QUERY SELECT d.id, d.sim FROM unnest(v_dense_ids, v_dense_sims) WITH ORDINALITY AS d(id, sim, n) ORDER BY d.n;
END
$fn$;
"""

TEXT_FUNCTION = """
CREATE OR REPLACE FUNCTION ingestion.search_text(
    p_tenant_id uuid,
    p_query text,
    p_top_k integer DEFAULT 10,
    p_candidates integer DEFAULT 50
) RETURNS TABLE (chunk_id uuid, text_rank real)
LANGUAGE plpgsql STABLE PARALLEL SAFE SECURITY DEFINER
SET search_path = pg_catalog, public
AS $fn$
#variable_conflict use_column
DECLARE
    text_sample constant integer := 2000;
    small_tenant constant integer := 2000;
    common_word constant real := 0.2;
    v_some tsquery;
    v_common text[];
    v_small boolean := true;
    v_enough integer;
    v_sample integer;
    v_rank text;
    v_match text := 'coalesce(c.search_vector @@ %s, false)';
    v_words text[];
    v_any tsquery;
    v_all tsquery;
    v_text_ids uuid[];
    v_text_ranks real[];
BEGIN
    IF p_tenant_id IS DISTINCT FROM NULLIF(current_setting('app.tenant_id', true), '')::uuid THEN
        RAISE EXCEPTION 'search_text: the transaction is not scoped to this tenant' USING ERRCODE = '42501';
    END IF;
    -- Where the full-text matches come from: the tenant's own GIN index when it has one; for a small
    -- tenant its btree range (every chunk tested), never the GIN index of all tenants, whose posting
    -- list for a common word is far longer than the tenant; otherwise the planner's choice.
    IF EXISTS (
        SELECT FROM pg_class ix JOIN pg_index i ON i.indexrelid = ix.oid
        WHERE ix.relnamespace = 'ingestion'::regnamespace
          AND ix.relname = ingestion.fts_index_name(p_tenant_id) AND i.indisvalid
    ) OR (
        SELECT count(*) FROM (
            SELECT FROM ingestion.knowledge_chunks c WHERE c.tenant_id = p_tenant_id LIMIT small_tenant
        ) AS s
    ) >= small_tenant THEN
        v_match := 'c.search_vector @@ %s';
        v_small := false;
    END IF;
    SELECT array_agg(DISTINCT w) INTO v_words
    FROM unnest(tsvector_to_array(to_tsvector('simple', coalesce(p_query, '')))) AS w;
    IF v_words IS NOT NULL THEN
        v_any := to_tsquery('simple', (SELECT string_agg(quote_literal(w), ' | ') FROM unnest(v_words) AS w));
        v_common := '{}';
        IF NOT v_small THEN
            SELECT coalesce(array_agg(f.word), '{}') INTO v_common
            FROM pg_stats st,
                 unnest(st.most_common_elems::text::text[], st.most_common_elem_freqs) AS f(word, freq)
            WHERE st.schemaname = 'ingestion' AND st.tablename = 'knowledge_chunks'
              AND st.attname = 'search_vector' AND f.freq > common_word;
        END IF;
        -- "All the words" means all the informative ones when there are any (matching a common word
        -- as well costs a long posting list and narrows little); ranks always count every word.
        v_all := to_tsquery('simple', coalesce(
            (SELECT string_agg(quote_literal(w), ' & ') FROM unnest(v_words) AS w WHERE w <> ALL (v_common)),
            (SELECT string_agg(quote_literal(w), ' & ') FROM unnest(v_words) AS w)
        ));
        v_sample := CASE WHEN v_small THEN text_sample ELSE text_sample / 8 END;
        -- One ranking step, run once or twice: up to $2 chunks matching $6, ranked against every word
        -- ($1) together with the chunks an earlier step ranked ($4, $5), the best $3 kept.
        v_rank := format(
            'SELECT array_agg(s.id ORDER BY s.rank DESC, s.id), array_agg(s.rank ORDER BY s.rank DESC, s.id) FROM ('
            '  SELECT u.id, u.rank FROM ('
            '    SELECT a.id, a.rank FROM unnest($4::uuid[], $5::real[]) AS a(id, rank)'
            '    UNION'
            '    SELECT m.id, ts_rank_cd(m.search_vector, $1) FROM ('
            '      SELECT c.id, c.search_vector FROM ingestion.knowledge_chunks c'
            '      WHERE c.tenant_id = %1$L AND (c.valid_to IS NULL OR c.valid_to > now())'
            '        AND ' || format(v_match, '$6') ||
            '      LIMIT $2'
            '    ) m'
            '  ) u ORDER BY u.rank DESC, u.id LIMIT $3'
            ') s',
            p_tenant_id);
        EXECUTE v_rank INTO v_text_ids, v_text_ranks
        USING v_any, v_sample, p_candidates, '{}'::uuid[], '{}'::real[], v_all;
        -- A tenant beyond `small_tenant` chunks falls back only when fewer than top_k chunks have all
        -- the words (further full-text candidates matter little once fused).
        v_enough := CASE WHEN v_small THEN p_candidates ELSE p_top_k END;
        IF coalesce(cardinality(v_text_ids), 0) < v_enough AND cardinality(v_words) > 1 THEN
            v_some := coalesce(to_tsquery('simple', (
                SELECT string_agg(quote_literal(w), ' | ') FROM unnest(v_words) AS w WHERE w <> ALL (v_common)
            )), v_any);
            EXECUTE v_rank INTO v_text_ids, v_text_ranks
            USING v_any, v_sample, p_candidates, coalesce(v_text_ids, '{}'), coalesce(v_text_ranks, '{}'), v_some;
        END IF;
    END IF;
    RETURN QUERY SELECT s.id, s.rank FROM unnest(v_text_ids, v_text_ranks) WITH ORDINALITY AS s(id, rank, n) ORDER BY s.n;
END
$fn$;
"""

FUSE_FUNCTION = """
CREATE OR REPLACE FUNCTION ingestion.search_fuse(
    p_tenant_id uuid,
    p_dense_ids uuid[],
    p_dense_similarities double precision[],
    p_text_ids uuid[],
    p_text_ranks real[],
    p_top_k integer DEFAULT 10
) RETURNS TABLE (
    chunk_id uuid, document_id uuid, title text, content text, location jsonb,
    score double precision, similarity double precision, text_rank real
)
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, public
AS $fn$
BEGIN
    -- The candidates by primary key (`id = ANY`): a join on the fused ids let the planner read all of a
    -- large tenant's rows, under row-level security, to find 50 of them.
    RETURN QUERY EXECUTE
        'WITH dense AS ('
        '    SELECT d.id, d.sim, d.r FROM unnest($2, $3) WITH ORDINALITY AS d(id, sim, r)'
        '), sparse AS ('
        '    SELECT s.id, s.rank, s.r FROM unnest($4, $5) WITH ORDINALITY AS s(id, rank, r)'
        '), fused AS ('
        '    SELECT coalesce(dense.id, sparse.id) AS id,'
        '           coalesce(1.0 / (60 + dense.r), 0) + coalesce(1.0 / (60 + sparse.r), 0) AS fused_score,'
        '           dense.sim, sparse.rank'
        '    FROM dense FULL OUTER JOIN sparse ON dense.id = sparse.id'
        '), rows AS ('
        '    SELECT k.id, k.document_id, k.title, k.text, k.location FROM ingestion.knowledge_chunks k'
        '    WHERE k.id = ANY ($2 || $4) AND k.tenant_id = $1 AND (k.valid_to IS NULL OR k.valid_to > now())'
        ')'
        ' SELECT c.id, c.document_id, c.title, c.text, c.location, f.fused_score::double precision, f.sim, f.rank'
        ' FROM fused f JOIN rows c ON c.id = f.id'
        ' ORDER BY f.fused_score DESC, f.sim DESC NULLS LAST, c.id'
        ' LIMIT $6'
    USING p_tenant_id, p_dense_ids, p_dense_similarities, p_text_ids, p_text_ranks, p_top_k;
END
$fn$;
"""

# `search_chunks_fused` (inge0004, VECTOR_DB_PROVIDER=pinecone) on the same steps: the store's dense
# candidates, kept if they are live rows of the tenant (a vector whose row is not committed, is gone,
# expired or another tenant's is never returned), then `search_text` and `search_fuse`. SECURITY
# INVOKER: row-level security applies on top of its own tenant filter.
FUSED_SIGNATURE = "ingestion.search_chunks_fused(uuid, uuid[], double precision[], text, integer, integer)"
FUSED_FUNCTION = """
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
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, public
AS $fn$
#variable_conflict use_column
DECLARE
    v_dense_ids uuid[];
    v_dense_sims double precision[];
    v_text_ids uuid[];
    v_text_ranks real[];
BEGIN
    -- `id = ANY`: the candidates by primary key, never a scan of the tenant's rows.
    SELECT array_agg(d.id ORDER BY d.sim DESC, d.id), array_agg(d.sim ORDER BY d.sim DESC, d.id)
    INTO v_dense_ids, v_dense_sims
    FROM (
        SELECT m.id, max(m.sim) AS sim
        FROM unnest(p_dense_ids, p_dense_similarities) AS m(id, sim)
        JOIN ingestion.knowledge_chunks c ON c.id = m.id
        WHERE c.id = ANY (p_dense_ids) AND c.tenant_id = p_tenant_id
          AND (c.valid_to IS NULL OR c.valid_to > now()) AND m.sim IS NOT NULL
        GROUP BY m.id
        ORDER BY max(m.sim) DESC, m.id
        LIMIT p_candidates
    ) d;
    IF p_query IS NOT NULL THEN
        SELECT array_agg(t.chunk_id ORDER BY t.n), array_agg(t.text_rank ORDER BY t.n)
        INTO v_text_ids, v_text_ranks
        FROM ingestion.search_text(p_tenant_id, p_query, p_top_k, p_candidates)
             WITH ORDINALITY AS t(chunk_id, text_rank, n);
    END IF;
    RETURN QUERY
    SELECT * FROM ingestion.search_fuse(p_tenant_id, v_dense_ids, v_dense_sims, v_text_ids, v_text_ranks, p_top_k);
END
$fn$;
"""

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
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, public
AS $fn$
#variable_conflict use_column
DECLARE
    v_dense_ids uuid[];
    v_dense_sims double precision[];
    v_text_ids uuid[];
    v_text_ranks real[];
BEGIN
    IF p_embedding IS NOT NULL THEN
        SELECT array_agg(d.chunk_id ORDER BY d.n), array_agg(d.similarity ORDER BY d.n)
        INTO v_dense_ids, v_dense_sims
        FROM ingestion.search_dense(p_tenant_id, p_embedding, p_min_score, p_model, p_candidates)
             WITH ORDINALITY AS d(chunk_id, similarity, n);
    END IF;
    IF p_query IS NOT NULL THEN
        SELECT array_agg(t.chunk_id ORDER BY t.n), array_agg(t.text_rank ORDER BY t.n)
        INTO v_text_ids, v_text_ranks
        FROM ingestion.search_text(p_tenant_id, p_query, p_top_k, p_candidates)
             WITH ORDINALITY AS t(chunk_id, text_rank, n);
    END IF;
    RETURN QUERY
    SELECT * FROM ingestion.search_fuse(p_tenant_id, v_dense_ids, v_dense_sims, v_text_ids, v_text_ranks, p_top_k);
END
$fn$;
"""


def upgrade() -> None:
    # Vectors in the heap row, not TOAST (pgvector's default, EXTERNAL): a 512-dimensional vector is
    # just over the 2 KB TOAST threshold, and an exact scan paid a TOAST lookup per chunk (about 5x
    # slower). Rows written from now on; `wafaa knowledge reindex` rewrites older ones.
    op.execute("ALTER TABLE ingestion.knowledge_chunks ALTER COLUMN embedding SET STORAGE MAIN")
    op.execute(ANN_INDEX_NAME)
    op.execute(FTS_INDEX_NAME)
    for signature, name in PARTS.items():
        op.execute(globals()[name])
        grant_function(signature)
    for signature, function in ((SIGNATURE, SEARCH_FUNCTION), (FUSED_SIGNATURE, FUSED_FUNCTION)):
        op.execute(f"DROP FUNCTION {signature}")  # LANGUAGE sql → plpgsql, SECURITY INVOKER kept
        op.execute(function)
        grant_function(signature)



def downgrade() -> None:
    # Back to the LANGUAGE sql functions of inge0002 and inge0004, which these replaced.
    for signature, function in (
        (SIGNATURE, earlier_revision(__file__, "inge0002_chunk_embeddings_and_search").SEARCH_FUNCTION),
        (FUSED_SIGNATURE, earlier_revision(__file__, "inge0004_search_chunks_fused").FUNCTION),
    ):
        op.execute(f"DROP FUNCTION {signature}")
        op.execute(function)
        grant_function(signature)
    for signature in PARTS:
        op.execute(f"DROP FUNCTION IF EXISTS {signature}")
    op.execute("DROP FUNCTION IF EXISTS ingestion.fts_index_name(uuid)")
    op.execute("DROP FUNCTION IF EXISTS ingestion.ann_index_name(uuid, text, integer)")
    op.execute("ALTER TABLE ingestion.knowledge_chunks ALTER COLUMN embedding SET STORAGE EXTERNAL")
