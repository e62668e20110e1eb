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

import re
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ClauseElement

from dbplane.engines.sql.compile import _Builder, compiled_read, leaves, table_clause
from dbplane.engines.sql.dialect import TablesDialect, sql_text
from dbplane.engines.sql.engine import SqlEngine
from dbplane.errors import TooManyAffected
from dbplane.query.model import (
    ColumnInfo,
    Predicate,
    PredicateGroup,
    ReadPlan,
    TableInfo,
    WritePlan,
)

__all__ = [
    "WRITE_CACHE",
    "Check",
    "CompiledWrite",
    "Statement",
    "bulk_write",
    "delete_statement",
    "delete_where_statement",
    "insert_statements",
    "run_statements",
    "unique_keys",
    "update_statement",
    "update_then_read_statements",
    "update_where_statement",
]

_FILTER_PARAM = re.compile(r"v[0-9]+")

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
             table: TableInfo, filters_at: int = 0) -> CompiledWrite:
    """``count`` values in all: the written ones (``w_i``), then from ``filters_at`` a
    filter's (``v{i}``, as ``sql.compile`` names them)."""
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
        elif _FILTER_PARAM.fullmatch(name):
            slots.append(filters_at + int(name[1:]))
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
                      returning: Sequence[ColumnInfo], conflict: tuple[str, ...] = (),
                      resolution: str | None = None) -> list[Statement]:
    """The statements inserting ``rows`` (values converted to the column kinds), each
    returning its rows rendered as JSON, one row per written row, in order. With a
    ``resolution``, rows that conflict on the unique key ``conflict`` update the existing
    row (``merge-duplicates``) or leave it (``ignore-duplicates``: PostgreSQL and SQLite
    then answer no row for it, MariaDB the existing row)."""
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
        key = ("insert", d.name, id(info), names, len(run), tuple(c.name for c in returning),
               conflict, resolution)
        entry = WRITE_CACHE.get(key, info)
        if entry is None:
            t = table_clause(info)
            if names:
                values = [{n: _param(r * len(names) + j) for j, n in enumerate(names)}
                          for r in range(len(run))]
                if resolution is None:
                    statement: Any = sa.insert(t).values(values)
                else:
                    statement = d.upsert(t, values, names, conflict,
                                         resolution == "merge-duplicates")
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


def update_then_read_statements(engine: SqlEngine, info: TableInfo,
                                changes: Mapping[str, Any],
                                key: Sequence[tuple[ColumnInfo, Any]],
                                returning: Sequence[ColumnInfo]) -> list[Statement]:
    """Where the database has no UPDATE ... RETURNING (MariaDB): the ``UPDATE ... WHERE
    key``, then the record read at its (possibly new) key, answering it only when the
    update matched a row (``TablesDialect.previous_matched``); to run in one
    transaction. No changes: the read alone."""
    d = engine.tables_dialect
    names = tuple(changes)
    new_key = [(col, changes.get(col.name, value)) for col, value in key]
    cache_key = ("update-read", d.name, id(info), names, tuple(c.name for c, _ in key),
                 tuple(c.name for c in returning))
    entry = WRITE_CACHE.get(cache_key, info)
    read_entry = WRITE_CACHE.get((*cache_key, "read"), info)
    if entry is None or read_entry is None:
        t = table_clause(info)
        sa_dialect = engine.sa_engine.dialect
        statement: Any = sa.update(t).values({n: _param(j) for j, n in enumerate(names)})
        statement = statement.where(_key_where(d, t, key, len(names)))
        entry = _compile(statement, sa_dialect, len(names) + len(key), info)
        condition = _key_where(d, t, new_key, 0)
        if names:
            condition = sa.and_(condition, d.previous_matched())
        read = sa.select(d.json_object(_pairs(d, t, returning))).where(condition)
        read_entry = _compile(read, sa_dialect, len(key), info)
        WRITE_CACHE.put(cache_key, entry)
        WRITE_CACHE.put((*cache_key, "read"), read_entry)
    read_args = read_entry.arguments([d.to_driver(col, v) for col, v in new_key])
    if not names:
        return [(read_entry.sql, read_args)]
    values = [d.to_driver(_col(info, n), changes[n]) for n in names
              ] + [d.to_driver(col, v) for col, v in key]
    return [(entry.sql, entry.arguments(values)), (read_entry.sql, read_args)]


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


Check = Callable[[list[list[tuple[Any, ...]]]], None]
"""Called with the statements' rows before the commit: raising rolls everything back."""


async def run_statements(engine: SqlEngine, statements: Sequence[Statement],
                         check: Check | None = None) -> list[list[tuple[Any, ...]]]:
    """Run ``statements`` in one transaction; the rows each answered. On the engine's
    own path when it has one (``SqlEngine.run_writes``), else on SQLAlchemy's pool."""
    rows = await engine.run_writes(statements, check)
    if rows is not None:
        return rows
    out: list[list[tuple[Any, ...]]] = []
    async with engine.sa_engine.begin() as conn:
        for sql, args in statements:
            result = await conn.exec_driver_sql(sql, args)
            out.append([tuple(r) for r in result.all()] if result.returns_rows else [])
        if check is not None:
            check(out)
    return out


# -- bulk updates and deletes ------------------------------------------------------------


def _filtered(d: TablesDialect, t: Any, info: TableInfo, where: PredicateGroup | None
              ) -> tuple[Any, list[Any]]:
    """The WHERE of a bulk write (``sql.compile``'s predicates, parameters ``v{i}``) and
    its values converted for the driver; (true, []) for every row."""
    if where is None:
        return sa.true(), []
    plan = ReadPlan(table=info, columns=(), where=where)
    values = leaves(plan)
    return (_Builder(d, plan, values).group(t, where),
            [d.filter_value(leaf.column, leaf.value, leaf.pattern) for leaf in values])


def update_where_statement(engine: SqlEngine, info: TableInfo, changes: Mapping[str, Any],
                           where: PredicateGroup | None,
                           returning: Sequence[ColumnInfo]) -> Statement:
    """``UPDATE ... SET ... WHERE filters RETURNING`` each row rendered as JSON (the
    dialect must have ``update_returning``)."""
    d = engine.tables_dialect
    names = tuple(changes)
    t = table_clause(info)
    condition, filter_values = _filtered(d, t, info, where)
    statement: Any = sa.update(t).values({n: _param(j) for j, n in enumerate(names)})
    statement = d.written_rows(statement.where(condition), _pairs(d, t, returning))
    entry = _compile(statement, engine.sa_engine.dialect,
                     len(names) + len(filter_values), info, filters_at=len(names))
    values = [d.to_driver(_col(info, n), changes[n]) for n in names] + filter_values
    return entry.sql, entry.arguments(values)


def delete_where_statement(engine: SqlEngine, info: TableInfo, where: PredicateGroup | None,
                           returning: Sequence[ColumnInfo] | None) -> Statement:
    """``DELETE ... WHERE filters RETURNING`` each row rendered as JSON (``returning``)
    or 1."""
    d = engine.tables_dialect
    t = table_clause(info)
    condition, filter_values = _filtered(d, t, info, where)
    statement: Any = sa.delete(t).where(condition)
    if returning:
        statement = d.written_rows(statement, _pairs(d, t, returning))
    else:
        statement = statement.returning(sql_text("1"))
    entry = _compile(statement, engine.sa_engine.dialect, len(filter_values), info)
    return entry.sql, entry.arguments(filter_values)


def _col(info: TableInfo, name: str) -> ColumnInfo:
    col = info.column(name)
    if col is None:
        raise ValueError(f"the table {info.name!r} has no column {name!r}")
    return col


# -- unique keys, for upserts ------------------------------------------------------------

_UNIQUE: weakref.WeakKeyDictionary[TableInfo, frozenset[frozenset[str]]] = \
    weakref.WeakKeyDictionary()


async def unique_keys(engine: SqlEngine, info: TableInfo) -> frozenset[frozenset[str]]:
    """The column sets of the table's primary key, unique constraints and unique indexes
    (read once per schema read: the Tables API's schema does not carry them)."""
    known = _UNIQUE.get(info)
    if known is not None:
        return known

    def read(sync_conn: sa.Connection) -> frozenset[frozenset[str]]:
        insp = sa.inspect(sync_conn)
        keys = {frozenset(info.primary_key)} if info.primary_key else set()
        for uq in insp.get_unique_constraints(info.name):
            keys.add(frozenset(c for c in uq["column_names"] if c))
        for ix in insp.get_indexes(info.name):
            if ix.get("unique"):
                keys.add(frozenset(c for c in ix["column_names"] if c))
        return frozenset(keys)

    async with engine.sa_engine.connect() as conn:
        found = await conn.run_sync(read)
    _UNIQUE[info] = found
    return found


def _at_most(plan: WritePlan) -> Check | None:
    limit = plan.max_affected
    if limit is None:
        return None

    def check(rows: list[list[tuple[Any, ...]]]) -> None:
        touched = sum(len(r) for r in rows[-1:])
        if touched > limit:
            raise TooManyAffected(
                f"the {plan.action} would touch {touched} rows of {plan.table.name!r}, more "
                f"than Prefer: max-affected={limit}; nothing was changed",
                parameter="Prefer", limit=limit, affected=touched, table=plan.table.name)

    return check


async def bulk_write(engine: SqlEngine, plan: WritePlan,
                     render: bool) -> tuple[bytes | None, int]:
    """A bulk update or delete (see ``sql.tables.write_where``)."""
    info = plan.table
    d = engine.tables_dialect
    returning = plan.returning or info.columns
    check = _at_most(plan)
    if plan.action == "delete":
        statement = delete_where_statement(engine, info, plan.where,
                                           returning if render else None)
        (rows,) = await run_statements(engine, [statement], check)
    elif d.update_returning or not render:
        if not d.update_returning:
            # counted: an UPDATE ... WHERE answering nothing, then how many it matched
            return None, await _update_counted(engine, plan, check)
        statement = update_where_statement(engine, info, plan.rows[0], plan.where, returning)
        (rows,) = await run_statements(engine, [statement], check)
    else:
        return await _update_then_read(engine, plan, check)
    if not render:
        return None, len(rows)
    return b"[" + b",".join(_text(r[0]) for r in rows) + b"]", len(rows)


def _text(value: Any) -> bytes:
    return value if isinstance(value, bytes) else str(value).encode()


async def _update_counted(engine: SqlEngine, plan: WritePlan, check: Check | None) -> int:
    info = plan.table
    d = engine.tables_dialect
    t = table_clause(info)
    names = tuple(plan.rows[0])
    condition, filter_values = _filtered(d, t, info, plan.where)
    statement = sa.update(t).values({n: _param(j) for j, n in enumerate(names)}
                                    ).where(condition)
    entry = _compile(statement, engine.sa_engine.dialect, len(names) + len(filter_values),
                     info, filters_at=len(names))
    values = [d.to_driver(_col(info, n), plan.rows[0][n]) for n in names] + filter_values
    async with engine.sa_engine.begin() as conn:
        result = await conn.exec_driver_sql(entry.sql, entry.arguments(values))
        count = int(result.rowcount)
        if check is not None:
            check([[(1,)] * count])
    return count


async def _update_then_read(engine: SqlEngine, plan: WritePlan,
                            check: Check | None) -> tuple[bytes | None, int]:
    """Where the database has no UPDATE ... RETURNING (MariaDB): the keys of the rows the
    filters keep, locked; the update of those keys; the rows read back at their (possibly
    new) keys; in one transaction."""
    info = plan.table
    d = engine.tables_dialect
    t = table_clause(info)
    keys = [_col(info, n) for n in info.primary_key]
    condition, filter_values = _filtered(d, t, info, plan.where)
    select = sa.select(*(t.c[c.name] for c in keys)).where(condition).with_for_update()
    entry = _compile(select, engine.sa_engine.dialect, len(filter_values), info)
    changes = plan.rows[0]
    async with engine.sa_engine.begin() as conn:
        found = (await conn.exec_driver_sql(entry.sql, entry.arguments(filter_values))).all()
        if check is not None:
            check([[tuple(r) for r in found]])
        if not found:
            return b"[]", 0
        moved: list[Predicate | PredicateGroup] = []
        for stored in found:
            key = tuple(zip(keys, stored, strict=True))
            upd = sa.update(t).values({n: _param(j) for j, n in enumerate(changes)}
                                      ).where(_key_where(d, t, key, len(changes)))
            compiled = _compile(upd, engine.sa_engine.dialect, len(changes) + len(key), info)
            values = [d.to_driver(_col(info, n), changes[n]) for n in changes] + [
                d.to_driver(col, v) for col, v in key]
            await conn.exec_driver_sql(compiled.sql, compiled.arguments(values))
            moved.append(PredicateGroup("and", tuple(
                Predicate(col, "eq", changes.get(col.name, value)) for col, value in key)))
        read = ReadPlan(table=info, columns=plan.returning or info.columns,
                        where=PredicateGroup("or", tuple(moved)))
        compiled_read_entry, args = compiled_read(d, conn.dialect, read)
        answer = (await conn.exec_driver_sql(compiled_read_entry.sql, args)).first()
    body = None if answer is None else answer[0]
    return (_text(body) if body is not None else b"[]"), len(found)
