"""The Tables API's writes as single statements that render what they wrote.

An insert of any number of rows is one multi-row ``INSERT ... VALUES (...), (...)`` per
run of rows that set the same columns (split further only past the database's limit on
parameters), and returns each written row rendered as JSON by the database, exactly as a
read renders it (``TablesDialect.written_rows``: ``RETURNING json_object(...)`` on SQLite
and MariaDB, ``WITH w AS (INSERT ... RETURNING ...) SELECT row_to_json(w)`` on
PostgreSQL). An update by key is one ``UPDATE ... RETURNING`` the same way where the
database has it (not MariaDB: there the update is followed by a read of the record in
the same transaction); a delete by key is ``DELETE ... RETURNING 1``.

Statements are compiled once per shape (table, action, columns, rows) and kept
(``WRITE_CACHE``); a request converts its values and runs the text. Where the engine has
a faster way to run a few statements in one transaction than SQLAlchemy's connection
(``SqlEngine.run_writes``: SQLite on the event loop, PostgreSQL on its asyncpg pool),
they run there.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ClauseElement

from dbplane.engines.sql.compile import table_clause
from dbplane.engines.sql.dialect import TablesDialect, sql_text
from dbplane.engines.sql.engine import SqlEngine
from dbplane.query.model import ColumnInfo, TableInfo

__all__ = ["WRITE_CACHE", "CompiledWrite", "Statement", "delete_statement",
           "insert_statements", "run_statements", "update_statement"]

Statement = tuple[str, tuple[Any, ...]]
"""The SQL text (driver placeholders) and its driver arguments."""


@dataclass(frozen=True, slots=True)
class CompiledWrite:
    """A compiled write: its text, and for each driver parameter the index into the
    flattened values (row by row, column by column) or, past them, a constant."""

    sql: str
    slots: tuple[int, ...]
    constants: tuple[Any, ...]
    table: TableInfo

    def arguments(self, values: list[Any]) -> tuple[Any, ...]:
        every = values + list(self.constants) if self.constants else values
        return tuple(every[i] for i in self.slots)


class _WriteCache:
    def __init__(self, size: int = 1024) -> None:
        self.size = size
        self._entries: OrderedDict[Hashable, CompiledWrite] = OrderedDict()

    def get(self, key: Hashable, table: TableInfo) -> CompiledWrite | None:
        entry = self._entries.get(key)
        if entry is None or entry.table is not table:
            return None
        self._entries.move_to_end(key)
        return entry

    def put(self, key: Hashable, entry: CompiledWrite) -> None:
        self._entries[key] = entry
        self._entries.move_to_end(key)
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)

    def clear(self) -> None:
        self._entries.clear()


WRITE_CACHE = _WriteCache()


def _compile(statement: ClauseElement, sa_dialect: Dialect, count: int,
             table: TableInfo) -> CompiledWrite:
    compiled = statement.compile(dialect=sa_dialect)
    assert isinstance(compiled, SQLCompiler)
    names = compiled.positiontup
    if names is None:
        raise AssertionError(f"{sa_dialect.name} does not compile to positional parameters")
    slots: list[int] = []
    constants: list[Any] = []
    for name in names:
        if name.startswith("w_"):
            slots.append(int(name[2:]))
        else:
            slots.append(count + len(constants))
            constants.append(compiled.binds[name].effective_value)
    return CompiledWrite(compiled.string, tuple(slots), tuple(constants), table)


def _param(i: int) -> sa.BindParameter[Any]:
    # untyped: PostgreSQL takes each parameter's type from its column
    return sa.bindparam(f"w_{i}", type_=sa.types.NullType())


def _pairs(d: TablesDialect, t: Any, columns: Sequence[ColumnInfo]) -> list[tuple[str, Any]]:
    return [(col.name, d.render(d.written_operand(t.c[col.name]), col)) for col in columns]


def _runs(rows: Sequence[Mapping[str, Any]], per_statement: int
          ) -> list[tuple[tuple[str, ...], list[Mapping[str, Any]]]]:
    """Consecutive rows that set the same columns, at most ``per_statement`` values each."""
    out: list[tuple[tuple[str, ...], list[Mapping[str, Any]]]] = []
    for row in rows:
        names = tuple(row)
        # no column at all: one row per statement (INSERT ... DEFAULT VALUES)
        limit = per_statement // len(names) if names else 1
        if out and out[-1][0] == names and len(out[-1][1]) < limit:
            out[-1][1].append(row)
        else:
            out.append((names, [row]))
    return out


def insert_statements(engine: SqlEngine, info: TableInfo, rows: Sequence[Mapping[str, Any]],
                      returning: Sequence[ColumnInfo]) -> list[Statement]:
    """The statements inserting ``rows`` (values converted to the column kinds), each
    returning its rows rendered as JSON, one row per written row, in order."""
    d = engine.tables_dialect
    sa_dialect = engine.sa_engine.dialect
    out: list[Statement] = []
    for names, run in _runs(rows, d.max_parameters):
        cols: list[ColumnInfo] = []
        for n in names:
            col = info.column(n)
            if col is None:
                raise ValueError(f"the table {info.name!r} has no column {n!r}")
            cols.append(col)
        key = ("insert", d.name, id(info), names, len(run), tuple(c.name for c in returning))
        entry = WRITE_CACHE.get(key, info)
        if entry is None:
            t = table_clause(info)
            if names:
                values = [{n: _param(r * len(names) + j) for j, n in enumerate(names)}
                          for r in range(len(run))]
                statement: Any = sa.insert(t).values(values)
            else:
                statement = sa.insert(t)
            statement = d.written_rows(statement, _pairs(d, t, returning))
            entry = _compile(statement, sa_dialect, len(run) * len(names), info)
            WRITE_CACHE.put(key, entry)
        values_out = [d.to_driver(col, row[col.name]) for row in run for col in cols]
        out.append((entry.sql, entry.arguments(values_out)))
    return out


def _key_where(d: TablesDialect, t: Any, key: Sequence[tuple[ColumnInfo, Any]],
               start: int) -> Any:
    return sa.and_(*(d.eq(t.c[col.name], col, _param(start + i))
                     for i, (col, _) in enumerate(key)))


def update_statement(engine: SqlEngine, info: TableInfo, changes: Mapping[str, Any],
                     key: Sequence[tuple[ColumnInfo, Any]],
                     returning: Sequence[ColumnInfo]) -> Statement | None:
    """``UPDATE ... WHERE key RETURNING`` the record rendered as JSON, or None where the
    database has no UPDATE ... RETURNING (or there is nothing to set)."""
    d = engine.tables_dialect
    if not d.update_returning or not changes:
        return None
    names = tuple(changes)
    cache_key = ("update", d.name, id(info), names, tuple(c.name for c, _ in key),
                 tuple(c.name for c in returning))
    entry = WRITE_CACHE.get(cache_key, info)
    if entry is None:
        t = table_clause(info)
        statement: Any = sa.update(t).values({n: _param(j) for j, n in enumerate(names)})
        statement = statement.where(_key_where(d, t, key, len(names)))
        statement = d.written_rows(statement, _pairs(d, t, returning))
        entry = _compile(statement, engine.sa_engine.dialect, len(names) + len(key), info)
        WRITE_CACHE.put(cache_key, entry)
    values = [d.to_driver(info.column(n), changes[n]) for n in names  # type: ignore[arg-type]
              ] + [d.to_driver(col, v) for col, v in key]
    return entry.sql, entry.arguments(values)


def delete_statement(engine: SqlEngine, info: TableInfo,
                     key: Sequence[tuple[ColumnInfo, Any]]) -> Statement:
    """``DELETE ... WHERE key RETURNING 1``: a row per deleted record."""
    d = engine.tables_dialect
    cache_key = ("delete", d.name, id(info), tuple(c.name for c, _ in key))
    entry = WRITE_CACHE.get(cache_key, info)
    if entry is None:
        t = table_clause(info)
        statement = sa.delete(t).where(_key_where(d, t, key, 0)).returning(sql_text("1"))
        entry = _compile(statement, engine.sa_engine.dialect, len(key), info)
        WRITE_CACHE.put(cache_key, entry)
    return entry.sql, entry.arguments([d.to_driver(col, v) for col, v in key])


async def run_statements(engine: SqlEngine, statements: Sequence[Statement]
                         ) -> list[list[tuple[Any, ...]]]:
    """Run ``statements`` in one transaction; the rows each answered. On the engine's
    own path when it has one (``SqlEngine.run_writes``), else on SQLAlchemy's pool."""
    rows = await engine.run_writes(statements)
    if rows is not None:
        return rows
    out: list[list[tuple[Any, ...]]] = []
    async with engine.sa_engine.begin() as conn:
        for sql, args in statements:
            result = await conn.exec_driver_sql(sql, args)
            out.append([tuple(r) for r in result.all()] if result.returns_rows else [])
    return out
