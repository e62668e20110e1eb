"""Managed servers and deployments (issue 14).

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dbp_managed_servers",
        sa.Column("database_id", sa.String(32), nullable=False),
        sa.Column("type_name", sa.String(32), nullable=False),
        sa.Column("directory", sa.Text(), nullable=False),
        sa.Column("port", sa.Integer(), nullable=False),
        sa.Column("database_name", sa.String(63), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=True),
        sa.Column("desired", sa.String(16), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("settings", sa.JSON(), nullable=False),
        sa.Column("pending", sa.JSON(), nullable=False),
        sa.Column("features", sa.JSON(), nullable=False),
        sa.Column("auto_restart", sa.Boolean(), nullable=False),
        sa.Column("restarts", sa.Integer(), nullable=False),
        sa.Column("next_restart_at", sa.BigInteger(), nullable=True),
        sa.Column("supervisor", sa.String(160), nullable=True),
        sa.Column("lease_until", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["database_id"], ["dbp_databases.id"], ondelete="CASCADE",
                                name="fk_dbp_managed_servers_database_id_dbp_databases"),
        sa.PrimaryKeyConstraint("database_id", name="pk_dbp_managed_servers"),
    )
    op.create_table(
        "dbp_deployments",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("database_id", sa.String(32), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("state", sa.String(32), nullable=False),
        sa.Column("operation_id", sa.String(36), nullable=True),
        sa.Column("request_id", sa.String(36), nullable=False),
        sa.Column("steps", sa.JSON(), nullable=False),
        sa.Column("error", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("started_at", sa.BigInteger(), nullable=True),
        sa.Column("finished_at", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(["database_id"], ["dbp_databases.id"], ondelete="CASCADE",
                                name="fk_dbp_deployments_database_id_dbp_databases"),
        sa.PrimaryKeyConstraint("id", name="pk_dbp_deployments"),
    )
    op.create_index("ix_dbp_deployments_database_id_created_at", "dbp_deployments",
                    ["database_id", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_dbp_deployments_database_id_created_at", table_name="dbp_deployments")
    op.drop_table("dbp_deployments")
    op.drop_table("dbp_managed_servers")
