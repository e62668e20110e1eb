"""Alembic environment of the metadata store.

Run by ``MetaStore.migrate`` with a live connection in ``config.attributes``; on
PostgreSQL an advisory lock makes replicas that start together migrate one at a time.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import text

from dbplane.meta.tables import VERSION_TABLE, metadata

# any constant: replicas of dbplane sharing one PostgreSQL store take this lock to migrate
_MIGRATION_LOCK = 0x6462706C616E65


def run_migrations_online() -> None:
    connection = context.config.attributes["connection"]
    context.configure(
        connection=connection,
        target_metadata=metadata,
        version_table=VERSION_TABLE,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:k)"),
                               {"k": _MIGRATION_LOCK})
        context.run_migrations()


run_migrations_online()
