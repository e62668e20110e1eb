"""The metadata store's migrations, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Connection

from dbplane.meta.store import MetaStore
from dbplane.meta.tables import VERSION_TABLE, metadata
from tests.conftest import MetaBackend

pytestmark = pytest.mark.parametrize("meta_backend", ["sqlite", "postgresql"], indirect=True)


def _differences(conn: Connection) -> list[object]:
    context = MigrationContext.configure(conn, opts={"compare_type": True,
                                                     "version_table": VERSION_TABLE})
    return list(compare_metadata(context, metadata))


def _tables(conn: Connection) -> set[str]:
    return set(inspect(conn).get_table_names())


async def test_migrations_give_the_schema_of_tables_py(meta_backend: MetaBackend,
                                                       tmp_path: Path) -> None:
    store = await MetaStore.open(meta_backend.url, tmp_path / "meta.db")
    try:
        async with store.connect() as conn:
            assert await conn.run_sync(_differences) == []
            tables = await conn.run_sync(_tables)
        assert tables == {t.name for t in metadata.sorted_tables} | {VERSION_TABLE}
    finally:
        await store.close()


async def test_migrations_downgrade_to_nothing_and_up_again(meta_backend: MetaBackend,
                                                            tmp_path: Path) -> None:
    store = await MetaStore.open(meta_backend.url, tmp_path / "meta.db")
    try:
        await store.downgrade("base")
        async with store.connect() as conn:
            assert await conn.run_sync(_tables) == {VERSION_TABLE}
        await store.migrate("head")
        async with store.connect() as conn:
            assert await conn.run_sync(_differences) == []
    finally:
        await store.close()
