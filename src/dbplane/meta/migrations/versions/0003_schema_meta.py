"""Schema as code (issue 5): opaque Directus collection and field metadata.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dbp_schema_meta",
        sa.Column("database_id", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("collection", sa.String(255), nullable=False),
        sa.Column("field", sa.String(255), nullable=False),
        sa.Column("meta", sa.JSON(), nullable=True),
        sa.Column("alias", sa.JSON(), nullable=True),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["database_id"], ["dbp_databases.id"], ondelete="CASCADE",
                                name="fk_dbp_schema_meta_database_id_dbp_databases"),
        sa.PrimaryKeyConstraint("database_id", "kind", "collection", "field",
                                name="pk_dbp_schema_meta"),
    )


def downgrade() -> None:
    op.drop_table("dbp_schema_meta")
