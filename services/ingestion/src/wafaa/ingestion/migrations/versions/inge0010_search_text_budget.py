"""search text budget: a large tenant's full-text side matches by its rarer words, within a budget

Revision ID: inge0010
Revises: inge0009
Create Date: 2026-11-26 13:00:00
"""

from collections.abc import Sequence

from alembic import op

from wafaa.common.db.migrations import earlier_revision, grant_function

revision: str = "inge0010"
down_revision: str | None = "inge0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TEXT_SIGNATURE = "ingestion.search_text(uuid, text, integer, integer)"

# inge0007's search_text matched a large tenant's chunks (its own GIN index) in two steps: all the
# query's words but those in more than a fifth of all chunks, then, when fewer than top-k chunks had
# them all, any of them. A GIN bitmap scan reads every posting of the words it is given before the
# first row comes out, and the second step's "any" often meant tens of thousands of chunks of a
# 100,000-chunk tenant, only to rank the first 250 of them: 20-30 ms of a 40 ms search at p95
# (bench/ingestion.py's tenants). Reading the word shares cost 2-3 ms more (unnesting all 1,000 of
# ANALYZE's most common elements for every search).
#
# Now each step is given only the words the tenant is expected to have in at most `match_budget`
# (2,000) chunks: a word's share of all chunks (ANALYZE's most common elements; a word not among them
# has at most the smallest listed share) times the tenant's chunk count (its GIN index's reltuples).
# - Step one: all those words. When there are none, every word of the query is in so many of the
#   tenant's chunks that matching them would rank an arbitrary sample: the text side returns nothing
#   and the dense side decides.
# - Step two: the rarest of them, as many as fit in the budget together (at least one).
# Ranking still counts every word of the query. The shares are global, not per tenant: a word common in
# one tenant but rare overall costs time; one rare in a tenant but common overall is left to the ranking
# and the dense side. Small tenants (below 2,000 chunks, every chunk tested) match as before.
#
# Ranking is `ts_rank`, not `ts_rank_cd`: about 10 µs less per ranked chunk (a 200-chunk tenant ranks
# all of them when a query has a common word), and better hits on the restaurant eval
# (tests/ingestion/test_search.py, local model, hybrid: hit@1 0.83 -> 0.86, MRR 0.88 -> 0.91;
# hash: hit@5 0.87 -> 0.90); the eval's answers are unchanged.
#
# Full-text side alone, bench/ingestion.py's data, 90 queries, p50 / p95 ms:
#   100,000-chunk tenant   5.8 / 19.7  ->  3.9 / 5.5
#   8,000-chunk tenant     5.3 / 6.0   ->  4.1 / 4.7
#   200-chunk tenants      3.6 / 6.2   ->  3.2 / 4.3

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
    match_budget constant real := 2000;
    v_chunks real := small_tenant;
    v_index_rows real;
    v_some tsquery;
    v_small boolean := true;
    v_enough integer;
    v_sample integer;
    v_rank text;
    v_match text := 'coalesce(c.search_vector @@ %s, false)';
    v_words text[];
    v_informative text[];
    v_rare text[];
    v_mce_words text[];
    v_mce_freqs real[];
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
    SELECT ix.reltuples INTO v_index_rows
    FROM pg_class ix JOIN pg_index i ON i.indexrelid = ix.oid
    WHERE ix.relnamespace = 'ingestion'::regnamespace
      AND ix.relname = ingestion.fts_index_name(p_tenant_id) AND i.indisvalid;
    IF FOUND OR (
        SELECT count(*) FROM (
            SELECT FROM ingestion.knowledge_chunks c WHERE c.tenant_id = p_tenant_id LIMIT small_tenant
        ) AS s
    ) >= small_tenant THEN
        v_match := 'c.search_vector @@ %s';
        v_small := false;
        v_chunks := greatest(v_index_rows, small_tenant);
    END IF;
    SELECT array_agg(DISTINCT w) INTO v_words
    FROM unnest(tsvector_to_array(to_tsvector('simple', coalesce(p_query, '')))) AS w;
    IF v_words IS NULL THEN
        RETURN;
    END IF;
    v_any := to_tsquery('simple', (SELECT string_agg(quote_literal(w), ' | ') FROM unnest(v_words) AS w));
    v_informative := v_words;
    v_rare := v_words;
    IF NOT v_small THEN
        -- Each word's share of all chunks: ANALYZE's most common elements of the tsvector column, whose
        -- frequencies end with their minimum and maximum; a word not listed has at most that minimum.
        SELECT st.most_common_elems::text::text[], st.most_common_elem_freqs INTO v_mce_words, v_mce_freqs
        FROM pg_stats st
        WHERE st.schemaname = 'ingestion' AND st.tablename = 'knowledge_chunks' AND st.attname = 'search_vector';
        WITH shares AS (
            SELECT q.word, coalesce(
                v_mce_freqs[array_position(v_mce_words, q.word)], v_mce_freqs[cardinality(v_mce_freqs) - 1], 0
            ) AS share
            FROM unnest(v_words) AS q(word)
        ), ordered AS (
            SELECT w.word, w.share, row_number() OVER (ORDER BY w.share, w.word) AS n,
                   sum(w.share) OVER (ORDER BY w.share, w.word) AS running
            FROM shares w
            WHERE w.share * v_chunks <= match_budget
        )
        SELECT array_agg(o.word ORDER BY o.n),
               array_agg(o.word ORDER BY o.n) FILTER (WHERE o.n = 1 OR o.running * v_chunks <= match_budget)
        INTO v_informative, v_rare
        FROM ordered o;
        IF v_informative IS NULL THEN  -- every word is in too many chunks to tell them apart
            RETURN;
        END IF;
    END IF;
    v_all := to_tsquery('simple', (SELECT string_agg(quote_literal(w), ' & ') FROM unnest(v_informative) AS w));
    v_sample := CASE WHEN v_small THEN text_sample ELSE text_sample / 8 END;
    -- One ranking step, run once or twice: up to $2 chunks matching $6, ranked against every word
    -- ($1) together with the chunks an earlier step ranked ($4, $5), the best $3 kept.
    v_rank := format(
        'SELECT array_agg(s.id ORDER BY s.rank DESC, s.id), array_agg(s.rank ORDER BY s.rank DESC, s.id) FROM ('
        '  SELECT t.id, t.rank FROM ('
        '    SELECT u.id, u.rank, rank() OVER (ORDER BY u.rank DESC) AS place FROM ('
        '      SELECT a.id, a.rank FROM unnest($4::uuid[], $5::real[]) AS a(id, rank)'
        '      UNION'
        '      SELECT m.id, ts_rank(m.search_vector, $1) FROM ('
        '        SELECT c.id, c.search_vector FROM ingestion.knowledge_chunks c'
        '        WHERE c.tenant_id = %1$L AND (c.valid_to IS NULL OR c.valid_to > now())'
        '          AND ' || format(v_match, '$6') ||
        '        LIMIT $2'
        '      ) m'
        '    ) u'
        '  ) t WHERE t.place <= $3 ORDER BY t.rank DESC, t.id LIMIT 4 * $3'
        ') s',
        p_tenant_id);
    EXECUTE v_rank INTO v_text_ids, v_text_ranks
    USING v_any, v_sample, p_candidates, '{}'::uuid[], '{}'::real[], v_all;
    -- A large tenant falls back only when fewer than top_k chunks have all the words (further
    -- full-text candidates matter little once fused).
    v_enough := CASE WHEN v_small THEN p_candidates ELSE p_top_k END;
    IF coalesce(cardinality(v_text_ids), 0) < v_enough AND cardinality(v_informative) > 1 THEN
        v_some := to_tsquery('simple', (SELECT string_agg(quote_literal(w), ' | ') FROM unnest(v_rare) AS w));
        EXECUTE v_rank INTO v_text_ids, v_text_ranks
        USING v_any, v_sample, p_candidates, coalesce(v_text_ids, '{}'), coalesce(v_text_ranks, '{}'), v_some;
    END IF;
    RETURN QUERY SELECT s.id, s.rank
    FROM unnest(v_text_ids, v_text_ranks) WITH ORDINALITY AS s(id, rank, n) ORDER BY s.n;
END
$fn$;
"""


def upgrade() -> None:
    op.execute(TEXT_FUNCTION)
    grant_function(TEXT_SIGNATURE)


def downgrade() -> None:
    op.execute(earlier_revision(__file__, "inge0007_search_ties").TEXT_FUNCTION)
    grant_function(TEXT_SIGNATURE)
