"""search ties: equally ranked chunks share their place, so the same documents give the same hits

Revision ID: inge0007
Revises: inge0006
Create Date: 2026-11-26 04:00:00
"""

from collections.abc import Sequence

from alembic import op

from wafaa.common.db.migrations import earlier_revision, grant_function

revision: str = "inge0007"
down_revision: str | None = "inge0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TEXT_SIGNATURE = "ingestion.search_text(uuid, text, integer, integer)"
FUSE_SIGNATURE = "ingestion.search_fuse(uuid, uuid[], double precision[], uuid[], real[], integer)"

# Full-text ranks tie often (two chunks that each mention "mansaf" once rank the same), and until now
# ties were broken by chunk id, a random uuid: the same documents uploaded twice gave different hits,
# and so different answers, for the same question. Now:
# - `search_text` keeps every chunk tied with the last candidate (at most four times the candidates,
#   beyond which the chunk id still decides which ones);
# - `search_fuse` gives tied chunks the same place (SQL `rank()`: three chunks tied for the first
#   place are all first, the next one is fourth), on both sides, before reciprocal rank fusion. The
#   mean of the shared places was tried too: a word in many chunks then weighed so little that its
#   chunks fell out of the top-k next to the dense side's, and the eval answers were no better;
# - the final order breaks a tie of fused score, similarity and rank by the chunk's text (its md5),
#   not its id.
# Otherwise the functions are those of inge0005.

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
            '  SELECT t.id, t.rank FROM ('
            '    SELECT u.id, u.rank, rank() OVER (ORDER BY u.rank DESC) AS place FROM ('
            '      SELECT a.id, a.rank FROM unnest($4::uuid[], $5::real[]) AS a(id, rank)'
            '      UNION'
            '      SELECT m.id, ts_rank_cd(m.search_vector, $1) FROM ('
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
    RETURN QUERY SELECT s.id, s.rank
    FROM unnest(v_text_ids, v_text_ranks) WITH ORDINALITY AS s(id, rank, n) ORDER BY s.n;
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
        '    SELECT d.id, d.sim,'
        '           rank() OVER (ORDER BY d.sim DESC) AS r'
        '    FROM unnest($2, $3) AS d(id, sim)'
        '), sparse AS ('
        '    SELECT s.id, s.rank,'
        '           rank() OVER (ORDER BY s.rank DESC) AS r'
        '    FROM unnest($4, $5) AS s(id, rank)'
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
        ' ORDER BY f.fused_score DESC, f.sim DESC NULLS LAST, f.rank DESC NULLS LAST, md5(c.text), c.id'
        ' LIMIT $6'
    USING p_tenant_id, p_dense_ids, p_dense_similarities, p_text_ids, p_text_ranks, p_top_k;
END
$fn$;
"""


def upgrade() -> None:
    for signature, function in ((TEXT_SIGNATURE, TEXT_FUNCTION), (FUSE_SIGNATURE, FUSE_FUNCTION)):
        op.execute(function)
        grant_function(signature)



def downgrade() -> None:
    previous = earlier_revision(__file__, "inge0005_search_at_scale")
    op.execute(previous.TEXT_FUNCTION)
    op.execute(previous.FUSE_FUNCTION)
