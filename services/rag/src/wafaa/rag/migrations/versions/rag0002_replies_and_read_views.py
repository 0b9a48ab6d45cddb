"""replies with sources, chat request ids, read views for the gateway

Revision ID: rag0002
Revises: rag0001
Create Date: 2026-11-26 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from wafaa.common.db.migrations import SERVICE_ROLE, read_view

revision: str = "rag0002"
down_revision: str | None = "rag0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "messages",
        sa.Column("sources", postgresql.JSONB(astext_type=sa.Text()), server_default="[]", nullable=False),
        schema="rag",
    )
    op.add_column("messages", sa.Column("request_id", sa.String(length=100), nullable=True), schema="rag")
    op.add_column(
        "messages", sa.Column("answered", sa.Boolean(), server_default=sa.text("false"), nullable=False), schema="rag"
    )
    op.execute("UPDATE rag.messages SET answered = true")
    op.create_index(
        "ix_messages_unanswered",
        "messages",
        ["tenant_id", "conversation_id"],
        schema="rag",
        postgresql_where=sa.text("direction = 'in' AND NOT answered"),
    )
    op.create_index(
        "ix_conversations_tenant_last_message", "conversations", ["tenant_id", "last_message_at", "id"], schema="rag"
    )
    # The read interface for other services: security-invoker views, so the reader's RLS applies.
    read_view(
        "rag.conversation_directory",
        "SELECT c.tenant_id, c.id, c.channel, c.channel_id, c.customer_id, c.customer_name, c.status, "
        "c.created_at, c.last_message_at, "
        "(SELECT count(*) FROM rag.messages m WHERE m.tenant_id = c.tenant_id AND m.conversation_id = c.id)::int "
        "AS message_count FROM rag.conversations c",
    )
    read_view(
        "rag.message_log",
        "SELECT tenant_id, id, conversation_id, direction, author, kind, text, sources, sent_at, created_at "
        "FROM rag.messages",
    )
    op.execute(f"GRANT USAGE ON SCHEMA rag TO {SERVICE_ROLE}")


def downgrade() -> None:
    op.execute("DROP VIEW IF EXISTS rag.message_log")
    op.execute("DROP VIEW IF EXISTS rag.conversation_directory")
    op.drop_index("ix_conversations_tenant_last_message", table_name="conversations", schema="rag")
    op.drop_index("ix_messages_unanswered", table_name="messages", schema="rag")
    op.drop_column("messages", "answered", schema="rag")
    op.drop_column("messages", "request_id", schema="rag")
    op.drop_column("messages", "sources", schema="rag")
