"""Backups (issue 7): backups and the periodic scheduler's slots.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dbp_backups",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("database_id", sa.String(32), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("method", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("type_name", sa.String(32), nullable=False),
        sa.Column("format", sa.String(16), nullable=False),
        sa.Column("archive", sa.String(255), nullable=True),
        sa.Column("size", sa.BigInteger(), nullable=True),
        sa.Column("checksum", sa.String(80), nullable=True),
        sa.Column("operation_id", sa.String(36), nullable=True),
        sa.Column("error", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("started_at", sa.BigInteger(), nullable=True),
        sa.Column("finished_at", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(["database_id"], ["dbp_databases.id"], ondelete="CASCADE",
                                name="fk_dbp_backups_database_id_dbp_databases"),
        sa.PrimaryKeyConstraint("id", name="pk_dbp_backups"),
    )
    op.create_index("ix_dbp_backups_database_id_created_at", "dbp_backups",
                    ["database_id", "created_at"])
    op.create_table(
        "dbp_backup_slots",
        sa.Column("database_id", sa.String(32), nullable=False),
        sa.Column("slot", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("backup_id", sa.String(32), nullable=True),
        sa.Column("claimed_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["database_id"], ["dbp_databases.id"], ondelete="CASCADE",
                                name="fk_dbp_backup_slots_database_id_dbp_databases"),
        sa.PrimaryKeyConstraint("database_id", "slot", name="pk_dbp_backup_slots"),
    )


def downgrade() -> None:
    op.drop_table("dbp_backup_slots")
    op.drop_index("ix_dbp_backups_database_id_created_at", table_name="dbp_backups")
    op.drop_table("dbp_backups")
