"""Reading a SQLite database's schema (see ``dbplane.engines.sql.catalog``).

The catalog query: ``sqlite_master`` joined to ``pragma_table_xinfo``, for the declared
type as written (reflection turns ``UUID`` into NUMERIC by SQLite's affinity rules), its
sizes, the default as stored, and whether a primary key is the rowid (``INTEGER PRIMARY
KEY``: the database makes the value; not so in a WITHOUT ROWID table). The schema
version is ``PRAGMA schema_version``, which SQLite itself increments on every schema
change (one page read).

A whole-schema read goes through a plain read-only connection in one worker thread:
reflection asks SQLite a few PRAGMAs per table, and on the async pool each is a thread hop
(300 tables: ~1.7 s; this way ~0.4 s).
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects.sqlite.base import ischema_names
from sqlalchemy.engine import Connection

from dbplane.engines.sql.catalog import CatalogColumn, CatalogDialect
from dbplane.query.model import ColumnKind

if TYPE_CHECKING:
    from dbplane.engines.sql.engine import SqlEngine

__all__ = ["SqliteCatalog", "kind_of_declared_type"]

T = TypeVar("T")

# the tables' (and views') columns, each with what its table says: WITHOUT ROWID (the
# snapshot's reading) and a primary-key index (the Tables API's: a key that is not the
# rowid has one); each list is read once, not per column. A view whose table is gone
# fails pragma_table_xinfo: only a reading that asks for views reads them
_COLUMNS = """
SELECT m.name, m.type, p.name, p.type, p.pk, p.dflt_value,
       m.name IN (SELECT name FROM sqlite_master
                  WHERE type = 'table' AND sql LIKE '%WITHOUT ROWID%'),
       m.name IN (SELECT s.name FROM sqlite_master AS s JOIN pragma_index_list(s.name) AS i
                  WHERE s.type = 'table' AND i.origin = 'pk')
FROM sqlite_master AS m JOIN pragma_table_xinfo(m.name) AS p
WHERE m.type IN ({}) AND m.name NOT LIKE 'sqlite~_%' ESCAPE '~'
"""
_TABLES = _COLUMNS.format("'table'")
_TABLES_AND_VIEWS = _COLUMNS.format("'table', 'view'")

_SIZE = re.compile(r"^\s*([A-Za-z][A-Za-z0-9 _]*?)\s*(?:\(\s*(\d+)\s*(?:,\s*(\d+)\s*)?\))?\s*$")

# SQLite reads any declared type by affinity (POINT has "INT" in it: an integer); only
# these names are taken for what they say in a snapshot, anything else is `unknown`
_NAMES = frozenset({
    "int", "integer", "smallint", "tinyint", "mediumint", "bigint", "int2", "int8",
    "varchar", "character varying", "char", "character", "nvarchar", "nchar", "text",
    "clob", "real", "float", "double", "double precision", "numeric", "decimal",
    "boolean", "bool", "date", "datetime", "timestamp", "time", "json", "uuid", "blob",
})


def kind_of_declared_type(declared: str) -> ColumnKind:
    """The kind of a SQLite column from its declared type, by name first (BOOLEAN, DATE,
    JSON, UUID… mean what they say in dbplane) then by SQLite's affinity rules."""
    t = declared.strip().upper()
    if not t:
        return "other"
    if t.startswith("BOOL"):
        return "boolean"
    if t.startswith(("DATETIME", "TIMESTAMP")):
        return "datetime"
    if t.startswith("DATE"):
        return "date"
    if t.startswith("TIME"):
        return "time"
    if t.startswith("JSON"):
        return "json"
    if t.startswith(("UUID", "GUID")):
        return "uuid"
    if "INT" in t:
        return "integer"
    if any(s in t for s in ("CHAR", "CLOB", "TEXT")):
        return "text"
    if "BLOB" in t or "BINARY" in t:
        return "binary"
    if any(s in t for s in ("REAL", "FLOA", "DOUB")):
        return "float"
    if t.startswith(("NUMERIC", "DECIMAL", "NUMBER")):
        return "decimal"
    return "other"


def _read_file(path: Path, read: Callable[[Connection], T]) -> T:
    uri = path.absolute().as_uri() + "?mode=ro"
    engine = sa.create_engine("sqlite://", poolclass=sa.pool.NullPool,
                              creator=lambda: sqlite3.connect(uri, uri=True,
                                                              check_same_thread=False))
    try:
        with engine.connect() as conn:
            return read(conn)
    finally:
        engine.dispose()


class SqliteCatalog(CatalogDialect):
    version_sql = "PRAGMA schema_version"
    unsized_string = "string"

    def fill_foreign_key_options(self, conn: Connection,
                                 fks: dict[Any, list[Any]]) -> None:
        # SQLAlchemy reads no ON UPDATE / ON DELETE from SQLite: PRAGMA foreign_key_list
        # says them (one row per column of each key, ``id`` numbering the keys)
        for (_, table), keys in fks.items():
            if not keys:
                continue
            rows = conn.exec_driver_sql(
                "SELECT id, \"from\", on_update, on_delete FROM pragma_foreign_key_list(?)",
                (table,)).all()
            by_id: dict[int, tuple[list[str], str, str]] = {}
            for key_id, column, on_update, on_delete in rows:
                by_id.setdefault(key_id, ([], on_update, on_delete))[0].append(column)
            actions = {tuple(cols): (up, down) for cols, up, down in by_id.values()}
            for fk in keys:
                found = actions.get(tuple(fk["constrained_columns"]))
                if found is None:
                    continue
                options = fk.setdefault("options", {})
                for key, value in zip(("onupdate", "ondelete"), found, strict=True):
                    if value and value.upper() != "NO ACTION":
                        options.setdefault(key, value.upper())

    def read_columns(self, conn: Connection, *, views: bool = True,
                     full: bool = False) -> dict[tuple[str, str], CatalogColumn]:
        rows = conn.exec_driver_sql(_TABLES_AND_VIEWS if views else _TABLES).all()
        pk_count: dict[str, int] = {}
        for table, _, _, _, pk, _, _, _ in rows:
            pk_count[table] = pk_count.get(table, 0) + (1 if pk else 0)
        out: dict[tuple[str, str], CatalogColumn] = {}
        for table, type_, column, declared, pk, default, without_rowid, pk_index in rows:
            declared = str(declared or "")
            sole_key = pk == 1 and pk_count[table] == 1
            autoincrement = (type_ == "table" and sole_key
                             and declared.strip().upper() == "INTEGER" and not pk_index)
            if not full:
                out[(table, column)] = CatalogColumn(
                    declared, kind_of_declared_type(declared), autoincrement)
                continue
            m = _SIZE.match(declared)
            base = (m.group(1) if m else declared).strip().lower()
            n1 = int(m.group(2)) if m and m.group(2) else None
            n2 = int(m.group(3)) if m and m.group(3) else None
            is_decimal = base.startswith(("numeric", "decimal"))
            out[(table, column)] = CatalogColumn(
                declared, kind_of_declared_type(declared), autoincrement,
                data_type=base, max_length=None if is_decimal else n1,
                precision=n1 if is_decimal else None, scale=n2 if is_decimal else None,
                default=default,
                has_auto_increment=sole_key and base == "integer" and not without_rowid,
                json=base.startswith("json"), boolean=base.startswith("bool"),
                uuid=base.startswith("uuid"), declared=declared)
        return out

    async def run_read(self, engine: SqlEngine, read: Callable[[Connection], T]) -> T:
        path = getattr(engine, "path", None)
        if isinstance(path, Path) and path.is_file():
            return await asyncio.to_thread(_read_file, path, read)
        return await super().run_read(engine, read)

    def field_type(self, t: Any, cat: CatalogColumn) -> str:
        if cat.data_type not in _NAMES:
            return "unknown"
        return super().field_type(t, cat)

    def max_length(self, cat: CatalogColumn, ftype: str) -> int | None:
        return cat.max_length if ftype == "string" else None

    def redeclared(self, cat: CatalogColumn) -> bool:
        return bool(cat.declared) and cat.data_type.upper() not in ischema_names
