"""The metadata store's first schema: databases, roles, users, sessions, API tokens.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dbp_databases",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("resource_id", sa.String(63), nullable=False),
        sa.Column("app_name", sa.String(255), nullable=False),
        sa.Column("type_name", sa.String(32), nullable=False),
        sa.Column("mode", sa.String(16), nullable=False),
        sa.Column("plan", sa.String(64), nullable=False),
        sa.Column("url_secret", sa.Text(), nullable=False),
        sa.Column("protected", sa.Boolean(), nullable=False),
        sa.Column("periodic_backups_enabled", sa.Boolean(), nullable=False),
        sa.Column("periodic_backups_scheduled_at", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_dbp_databases"),
        sa.UniqueConstraint("resource_id", name="uq_dbp_databases_resource_id"),
    )
    op.create_table(
        "dbp_roles",
        sa.Column("name", sa.String(63), nullable=False),
        sa.Column("description", sa.String(255), nullable=False),
        sa.Column("grants", sa.JSON(), nullable=False),
        sa.Column("created_on", sa.BigInteger(), nullable=False),
        sa.Column("updated_on", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_dbp_roles"),
    )
    op.create_table(
        "dbp_users",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("role", sa.String(63), nullable=False),
        sa.Column("created_on", sa.BigInteger(), nullable=False),
        sa.Column("updated_on", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["role"], ["dbp_roles.name"],
                                name="fk_dbp_users_role_dbp_roles"),
        sa.PrimaryKeyConstraint("id", name="pk_dbp_users"),
        sa.UniqueConstraint("email", name="uq_dbp_users_email"),
    )
    op.create_table(
        "dbp_sessions",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("user_id", sa.String(36), nullable=False),
        sa.Column("created_on", sa.BigInteger(), nullable=False),
        sa.Column("expires_on", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["dbp_users.id"], ondelete="CASCADE",
                                name="fk_dbp_sessions_user_id_dbp_users"),
        sa.PrimaryKeyConstraint("id", name="pk_dbp_sessions"),
        sa.UniqueConstraint("token_hash", name="uq_dbp_sessions_token_hash"),
    )
    op.create_index("ix_dbp_sessions_user_id", "dbp_sessions", ["user_id"])
    op.create_table(
        "dbp_api_tokens",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("prefix", sa.String(16), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("created_on", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_dbp_api_tokens"),
        sa.UniqueConstraint("token_hash", name="uq_dbp_api_tokens_token_hash"),
    )


def downgrade() -> None:
    op.drop_table("dbp_api_tokens")
    op.drop_index("ix_dbp_sessions_user_id", table_name="dbp_sessions")
    op.drop_table("dbp_sessions")
    op.drop_table("dbp_users")
    op.drop_table("dbp_roles")
    op.drop_table("dbp_databases")
