"""document_chunks: the read interface other services use to show a document's indexed chunks

Revision ID: inge0003
Revises: inge0002
Create Date: 2026-11-25 18:00:00
"""

from collections.abc import Sequence

from alembic import op

from wafaa.common.db.migrations import grant_function

revision: str = "inge0003"
down_revision: str | None = "inge0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SIGNATURE = "ingestion.document_chunks(uuid, uuid, integer, integer)"

# A stable signature instead of the table layout; SECURITY INVOKER (the default), so row-level
# security applies on top of its own tenant filter. No embeddings: readers see text and citations.
FUNCTION = """
CREATE OR REPLACE FUNCTION ingestion.document_chunks(
    p_tenant_id uuid,
    p_document_id uuid,
    p_limit integer DEFAULT 1000,
    p_offset integer DEFAULT 0
) RETURNS TABLE (
    chunk_id uuid, ordinal integer, content text, location jsonb,
    embedding_provider text, embedding_model text, created_at timestamptz
)
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, public
AS $fn$
SELECT c.id, c.ordinal, c.text, c.location, c.embedding_provider::text, c.embedding_model::text, c.created_at
FROM ingestion.knowledge_chunks c
WHERE c.tenant_id = p_tenant_id AND c.document_id = p_document_id
ORDER BY c.ordinal, c.id
LIMIT p_limit OFFSET p_offset
$fn$;
"""


def upgrade() -> None:
    op.execute(FUNCTION)
    grant_function(SIGNATURE)


def downgrade() -> None:
    op.execute(f"DROP FUNCTION IF EXISTS {SIGNATURE}")
