"""Data safety (issue 17): restore drills, server versions and what an upgrade or a
point-in-time restore keeps.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("dbp_databases") as batch:
        batch.add_column(sa.Column("restore_drills_enabled", sa.Boolean(), nullable=False,
                                   server_default=sa.false()))
    with op.batch_alter_table("dbp_backups") as batch:
        batch.add_column(sa.Column("fingerprint", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("verified_at", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("verification", sa.JSON(), nullable=True))
    with op.batch_alter_table("dbp_managed_servers") as batch:
        batch.add_column(sa.Column("layout", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("kept", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("dbp_managed_servers") as batch:
        batch.drop_column("kept")
        batch.drop_column("layout")
    with op.batch_alter_table("dbp_backups") as batch:
        batch.drop_column("verification")
        batch.drop_column("verified_at")
        batch.drop_column("fingerprint")
    with op.batch_alter_table("dbp_databases") as batch:
        batch.drop_column("restore_drills_enabled")
