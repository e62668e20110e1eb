"""SQLite's logical databases: files of their own in ``<file>.databases/`` beside the
registered file, which is ``main``."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from dbplane.engines import parse_database_url
from dbplane.engines.actions import actions_for
from dbplane.engines.sqlite.actions import SqliteActions
from dbplane.engines.sqlite.engine import SqliteEngine
from dbplane.errors import InvalidActionParams, LogicalDatabaseExists, LogicalDatabaseNotFound


@pytest.fixture
async def adapter(tmp_path: Path) -> AsyncIterator[SqliteActions]:
    engine = SqliteEngine(parse_database_url(f"sqlite:///{tmp_path / 'shop.db'}"))
    engine.create = True
    await engine.connect()
    try:
        found = actions_for(engine)
        assert isinstance(found, SqliteActions)
        yield found
    finally:
        await engine.close()


async def test_files_beside_the_registered_one(adapter: SqliteActions, tmp_path: Path) -> None:
    assert await adapter.list_databases() == ["main"]
    await adapter.create_database("custom-db")
    path = tmp_path / "shop.db.databases" / "custom-db.db"
    assert path.is_file()
    assert await adapter.list_databases() == ["main", "custom-db"]
    with pytest.raises(LogicalDatabaseExists):
        await adapter.create_database("custom-db")
    with pytest.raises(LogicalDatabaseExists):
        await adapter.create_database("main")
    with pytest.raises(InvalidActionParams, match="SQLite keeps for itself"):
        await adapter.create_database("TEMP")
    assert adapter.logical_name(parse_database_url(f"sqlite:///{path}")) == "custom-db"
    assert adapter.logical_name(parse_database_url(f"sqlite:///{tmp_path}/shop.db")) == "main"
    assert adapter.logical_name(parse_database_url(f"sqlite:///{tmp_path}/x.db")) is None

    con = sqlite3.connect(path)
    con.executescript("""
        PRAGMA foreign_keys=ON;
        CREATE TABLE parent (id INTEGER PRIMARY KEY AUTOINCREMENT);
        CREATE TABLE child (id INTEGER PRIMARY KEY,
                            parent_id INTEGER REFERENCES parent(id));
        CREATE INDEX child_parent ON child(parent_id);
        CREATE VIEW both_ AS SELECT * FROM parent JOIN child ON child.parent_id = parent.id;
        CREATE TRIGGER t AFTER INSERT ON parent BEGIN SELECT 1; END;
        INSERT INTO parent DEFAULT VALUES;
        INSERT INTO child VALUES (1, 1);
    """)
    con.close()
    await adapter.reset_database("custom-db")
    with sqlite3.connect(path) as con:
        left = con.execute("SELECT type, name FROM sqlite_master "
                           "WHERE name <> 'sqlite_sequence'").fetchall()
    assert left == []

    await adapter.delete_database("custom-db")
    assert not path.exists()
    assert not list(path.parent.iterdir())  # no -wal or -shm left behind
    for missing in ("custom-db", "main"):
        with pytest.raises(LogicalDatabaseNotFound):
            await adapter.delete_database(missing)
