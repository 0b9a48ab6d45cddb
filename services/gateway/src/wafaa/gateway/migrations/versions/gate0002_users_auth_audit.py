"""users, refresh tokens, audit trail, tenant settings, login lookup

Revision ID: gate0002
Revises: gate0001
Create Date: 2026-11-26 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from wafaa.common.db.migrations import grant_function, tenant_table

revision: str = "gate0002"
down_revision: str | None = "gate0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "tenants",
        sa.Column("settings", postgresql.JSONB(), server_default=sa.text("'{}'::jsonb"), nullable=False),
        schema="gateway",
    )

    op.create_table(
        "users",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("password_hash", sa.String(length=100), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("role IN ('owner', 'admin', 'agent')", name=op.f("ck_users_role")),
        sa.CheckConstraint("status IN ('active', 'disabled')", name=op.f("ck_users_status")),
        sa.CheckConstraint("email = lower(email)", name=op.f("ck_users_email_lowercase")),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["gateway.tenants.id"], name=op.f("fk_users_tenant_id_tenants"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("email", name=op.f("uq_users_email")),
        sa.UniqueConstraint("tenant_id", "id", name=op.f("uq_users_tenant_id_id")),
        schema="gateway",
    )
    op.create_index(op.f("ix_users_tenant_id"), "users", ["tenant_id"], unique=False, schema="gateway")

    op.create_table(
        "refresh_tokens",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("family_id", sa.Uuid(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "user_id"],
            ["gateway.users.tenant_id", "gateway.users.id"],
            name=op.f("fk_refresh_tokens_tenant_id_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_refresh_tokens")),
        schema="gateway",
    )
    for column in ("tenant_id", "user_id", "family_id"):
        op.create_index(
            op.f(f"ix_refresh_tokens_{column}"), "refresh_tokens", [column], unique=False, schema="gateway"
        )

    op.create_table(
        "audit_logs",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("actor_type", sa.String(length=16), nullable=False),
        sa.Column("actor_id", sa.Uuid(), nullable=True),
        sa.Column("actor_label", sa.String(length=320), nullable=True),
        sa.Column("action", sa.String(length=100), nullable=False),
        sa.Column("resource_type", sa.String(length=50), nullable=False),
        sa.Column("resource_id", sa.String(length=100), nullable=True),
        sa.Column("changes", postgresql.JSONB(), nullable=False),
        sa.Column("request_id", sa.String(length=100), nullable=True),
        sa.Column("ip", sa.String(length=64), nullable=True),
        sa.Column("user_agent", sa.String(length=500), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["gateway.tenants.id"], name=op.f("fk_audit_logs_tenant_id_tenants"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_logs")),
        schema="gateway",
    )
    op.create_index(op.f("ix_audit_logs_tenant_id"), "audit_logs", ["tenant_id"], unique=False, schema="gateway")
    op.create_index(
        "ix_audit_logs_tenant_time", "audit_logs", ["tenant_id", "occurred_at", "id"], unique=False, schema="gateway"
    )

    tenant_table("gateway.users")
    tenant_table("gateway.refresh_tokens")
    # Append-only for the services: no UPDATE, no DELETE.
    tenant_table("gateway.audit_logs", "SELECT, INSERT")

    # Login must find a user before the tenant is known, and row-level security hides every row
    # without one. This function is the single, narrow way around it: one row for one exact email,
    # running as its owner (the migrating role). FORCE ROW LEVEL SECURITY applies to the owner too
    # unless it is a superuser, hence the owner-only read policy.
    op.execute("CREATE POLICY owner_login_lookup ON gateway.users FOR SELECT TO CURRENT_USER USING (true)")
    op.execute(
        """
        CREATE FUNCTION gateway.find_login(p_email text)
        RETURNS TABLE (tenant_id uuid, user_id uuid, password_hash text, status text)
        LANGUAGE sql STABLE SECURITY DEFINER
        SET search_path = pg_catalog, pg_temp
        AS $$
            SELECT u.tenant_id, u.id, u.password_hash::text, u.status::text
            FROM gateway.users AS u
            WHERE u.email = lower(p_email)
        $$
        """
    )
    grant_function("gateway.find_login(text)")


def downgrade() -> None:
    op.execute("DROP FUNCTION IF EXISTS gateway.find_login(text)")
    op.drop_table("audit_logs", schema="gateway")
    op.drop_table("refresh_tokens", schema="gateway")
    op.drop_table("users", schema="gateway")
    op.drop_column("tenants", "settings", schema="gateway")
