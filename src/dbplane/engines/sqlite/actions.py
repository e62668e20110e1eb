"""SQLite actions: what a "logical database" is for a file.

A SQLite file is one database, listed as ``main`` (its schema name in SQLite) and
protected: it is the registered database itself. Logical databases created by
``create-database`` are SQLite files of their own beside it, in the directory
``<file>.databases/`` (``/data/shop.db`` → ``/data/shop.db.databases/custom-db.db``):
a connection to the main file reaches them with ``ATTACH DATABASE``, and each can be
registered in dbplane as a database of its own (``sqlite:////data/shop.db.databases/
custom-db.db``). ``delete-database`` removes the file (with its ``-wal`` and ``-shm``);
``reset-database`` drops every table, view, index and trigger in it.
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import ClassVar

from sqlalchemy.dialects import sqlite as sqlite_dialect

from dbplane.engines.actions import ActionsAdapter, first_line, translated
from dbplane.engines.sqlite.engine import SqliteEngine
from dbplane.engines.urls import DatabaseUrl
from dbplane.errors import (
    ActionRefused,
    DbplaneError,
    InvalidActionParams,
    LogicalDatabaseExists,
    LogicalDatabaseNotFound,
)

__all__ = ["MAIN", "SqliteActions"]

MAIN = "main"
_PREPARER = sqlite_dialect.dialect().identifier_preparer


def _create(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        # "x": refuse to overwrite a file another request created meanwhile
        with path.open("xb"):
            pass
    except FileExistsError as exc:
        raise LogicalDatabaseExists(f"there is already a database named {path.stem!r}",
                                    database_name=path.stem) from exc
    con = sqlite3.connect(path)
    try:
        con.execute("PRAGMA journal_mode=WAL")
    finally:
        con.close()


def _delete(path: Path) -> None:
    for suffix in ("-wal", "-shm", "-journal"):
        path.with_name(path.name + suffix).unlink(missing_ok=True)
    path.unlink()


def _reset(path: Path) -> None:
    con = sqlite3.connect(path, isolation_level=None)
    try:
        con.execute("PRAGMA busy_timeout=5000")
        con.execute("PRAGMA foreign_keys=OFF")
        con.execute("BEGIN IMMEDIATE")
        objects = con.execute(
            "SELECT type, name FROM sqlite_master WHERE name NOT LIKE 'sqlite\\_%' "
            "ESCAPE '\\' AND type IN ('view', 'trigger', 'table') ORDER BY CASE type "
            "WHEN 'view' THEN 0 WHEN 'trigger' THEN 1 ELSE 2 END").fetchall()
        for kind, name in objects:
            # a table's indexes and triggers go with it
            con.execute(f"DROP {kind.upper()} IF EXISTS "
                        f"{_PREPARER.quote_identifier(name)}")
        con.execute("COMMIT")
        con.execute("VACUUM")
    except BaseException:
        if con.in_transaction:
            con.execute("ROLLBACK")
        raise
    finally:
        con.close()


def _known(exc: BaseException) -> DbplaneError | None:
    if isinstance(exc, sqlite3.Error | OSError):
        return ActionRefused(f"SQLite refused the action: {first_line(exc)}")
    return None


class SqliteActions(ActionsAdapter):
    supported: ClassVar[frozenset[str]] = frozenset({
        "list-actions", "list-databases", "create-database", "delete-database",
        "reset-database",
    })
    system_databases: ClassVar[frozenset[str]] = frozenset({MAIN, "temp"})

    engine: SqliteEngine

    @property
    def directory(self) -> Path:
        path = self.engine.path.absolute()
        return path.with_name(path.name + ".databases")

    def path_of(self, name: str) -> Path:
        """The file of the logical database ``name`` (a checked identifier)."""
        return self.directory / f"{name}.db"

    def own_database(self) -> str | None:
        return MAIN

    def logical_name(self, url: DatabaseUrl) -> str | None:
        if url.type_name != self.engine.type_name:
            return None
        path = url.file_path.absolute()
        if path == self.engine.path.absolute():
            return MAIN
        if path.parent == self.directory and path.suffix == ".db":
            return path.stem
        return None

    def _existing(self, name: str) -> Path:
        path = self.path_of(name)
        if name == MAIN or not path.is_file():
            raise LogicalDatabaseNotFound(f"there is no database named {name!r} (its file "
                                          f"would be {str(path)!r})", database_name=name)
        return path

    async def list_databases(self) -> list[str]:
        directory = self.directory
        names = sorted(p.stem for p in directory.glob("*.db")) if directory.is_dir() else []
        return [MAIN, *names]

    async def create_database(self, name: str) -> None:
        if name == MAIN:
            raise LogicalDatabaseExists(f"there is already a database named {name!r}",
                                        database_name=name)
        if name.lower() in self.system_databases:
            # ATTACH could not name it: SQLite keeps "main" and "temp" for itself
            raise InvalidActionParams(f"params.database_name: {name!r} is a name SQLite "
                                      "keeps for itself", field="params.database_name")
        async with translated(self.engine, _known):
            await asyncio.to_thread(_create, self.path_of(name))

    async def delete_database(self, name: str, *, force: bool = False) -> None:
        path = self._existing(name)
        async with translated(self.engine, _known):
            await asyncio.to_thread(_delete, path)

    async def reset_database(self, name: str) -> None:
        path = self._existing(name)
        async with translated(self.engine, _known):
            await asyncio.to_thread(_reset, path)
