"""Operations (issue 7): the operations table.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dbp_operations",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("database_id", sa.String(32), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("conflict_slot", sa.String(128), nullable=True),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.Column("error", sa.JSON(), nullable=True),
        sa.Column("steps", sa.JSON(), nullable=False),
        sa.Column("log", sa.JSON(), nullable=False),
        sa.Column("progress", sa.Float(), nullable=False),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("created_by", sa.String(255), nullable=True),
        sa.Column("owner", sa.String(160), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("cancel_requested", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("started_at", sa.BigInteger(), nullable=True),
        sa.Column("finished_at", sa.BigInteger(), nullable=True),
        sa.Column("heartbeat_at", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_dbp_operations"),
        sa.UniqueConstraint("conflict_slot", name="uq_dbp_operations_conflict_slot"),
    )
    op.create_index("ix_dbp_operations_status_created_at", "dbp_operations",
                    ["status", "created_at"])
    op.create_index("ix_dbp_operations_database_id_created_at", "dbp_operations",
                    ["database_id", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_dbp_operations_database_id_created_at", table_name="dbp_operations")
    op.drop_index("ix_dbp_operations_status_created_at", table_name="dbp_operations")
    op.drop_table("dbp_operations")
