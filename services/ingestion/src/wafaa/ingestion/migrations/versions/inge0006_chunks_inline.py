"""chunk rows kept whole: text and search vector in the heap row, not TOAST

Revision ID: inge0006
Revises: inge0005
Create Date: 2026-11-26 00:20:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "inge0006"
down_revision: str | None = "inge0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A chunk row is its 512-dimensional vector (2 KB, kept in the row since inge0005) plus its text
    # and search vector (about 0.7 KB for a 400-character chunk). Past the default 2 KB threshold
    # Postgres moved the text and the search vector out to TOAST in every row, so full-text ranking
    # and reading the hits paid a TOAST index lookup per chunk (ranking 200 chunks: 5.5 ms → 2.7 ms
    # kept inline). Rows now stay whole up to a page; longer ones are still toasted. Rows written from
    # now on; `wafaa knowledge reindex` (or VACUUM FULL) rewrites older ones.
    op.execute("ALTER TABLE ingestion.knowledge_chunks SET (toast_tuple_target = 8160)")


def downgrade() -> None:
    op.execute("ALTER TABLE ingestion.knowledge_chunks RESET (toast_tuple_target)")
