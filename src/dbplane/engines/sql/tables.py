"""The engine side of the Tables API: the live schema, reads rendered as JSON by the
database, and writes in one transaction each (SQLite, PostgreSQL, MariaDB).

Public functions::

    introspect(engine) -> SchemaInfo
    schema_version(engine) -> str
    read_rows(engine, plan) -> (bytes, int | None)     # the JSON array, the total
    read_record(engine, plan) -> bytes | None           # plan.key set: the JSON object
    write(engine, plan) -> bytes | None                 # insert / update / delete

    # the same reads in two steps, for a caller that keeps what a query string comes to:
    prepare_read(engine, plan) -> PreparedRead          # compiled, values converted
    run_read(engine, sql, args) -> row                  # then list_answer / record_answer

The hot path builds no row in Python: a read is one statement (``sql.compile``, cached
by the plan's shape) whose single value is the whole JSON body, and dbplane hands those
bytes on. Includes are correlated subqueries in the same statement; ``count_exact`` is a
scalar subquery beside the page (one statement, so one snapshot). On SQLite and
PostgreSQL the statement runs on the driver's connection checked out of the engine's
pool (one aiosqlite thread hop; one asyncpg round trip, without the BEGIN/ROLLBACK
SQLAlchemy's adapter would add); on MariaDB through SQLAlchemy's connection.

Modules: ``sql.introspect`` (schema, version), ``sql.compile`` (plan → statement,
cache), ``sql.dialect`` (the base class) with each type's ``tables`` module (what
differs per database: ``SqlEngine.tables_dialect``).

Rendering (the same on every engine where the column types match):

==========  ===============================================================================
kind        JSON value
==========  ===============================================================================
integer     a number; outside ±9007199254740991 (2**53 - 1) a string of its digits, so no
            reader rounds it
float       a number (exact: SQLite writes 17 digits where its usual 15 would not read
            back as the same double); ±Infinity as the strings "Infinity", "-Infinity"
decimal     a string with the exact digits (``"12.50"``): PostgreSQL and MariaDB keep the
            column's scale; SQLite stores reals, printed with the declared scale
            (``NUMERIC(10,2)``) or as SQLite prints it
text        a string (an enum too)
boolean     true / false (SQLite and MariaDB store 0/1)
date        ``"YYYY-MM-DD"``
datetime    ``"YYYY-MM-DDTHH:MM:SS[.ffffff]"`` as Python's ``isoformat()``: six digits
            when there is a fraction; a column with a time zone (PostgreSQL timestamptz,
            MariaDB TIMESTAMP) in UTC with ``+00:00``. SQLite gives the stored text with
            "T" for the space (dbplane stores ``YYYY-MM-DD HH:MM:SS[.ffffff][+00:00]``,
            SQLite's own form; aware values in UTC)
time        ``"HH:MM:SS[.ffffff]"``
json        the stored JSON, embedded (not a string); SQLite text that is not valid JSON
            stays a string
binary      lower-case hex, ``"00ff10"``
uuid        the canonical lower-case string
other       the engine's text form of the value
NULL        null
==========  ===============================================================================

Semantics, identical on the three engines:

- ``eq lt lte gt gte between in contains startsWith endsWith`` never match NULL; ``ne
  nin notContains`` do (``IS DISTINCT FROM``: NULL differs from every value), as Python's
  ``!=`` and ``not in`` would answer for None. ``eq`` with a None value matches nothing
  (``null`` is the operator for that).
- Text compares and sorts case-sensitively by code point, with no trailing-space padding:
  SQLite's BINARY collation, PostgreSQL ``COLLATE "C"``, MariaDB ``utf8mb4_nopad_bin``.
  ``contains startsWith endsWith`` are case-sensitive and treat ``%`` and ``_`` as
  themselves (no LIKE: ``instr/substr``, ``strpos/left/right``, ``LOCATE/LEFT/RIGHT``).
- Sorting puts NULLs first ascending and last descending; the primary key (ascending)
  ends every sort, so pages are stable. One-to-many includes are ordered by the remote
  primary key. (PostgreSQL needs NULLS FIRST/LAST for that, which its default index
  order cannot serve; it is left out for NOT NULL columns, which keeps the primary key's
  index usable.)
- Values in a plan are never None (``null``/``notNull`` are the operators for NULL):
  ``eq``/``in`` with None match nothing, as SQL has it.
- The connections' time zone is UTC (MariaDB sessions are set to it by ``MysqlEngine``).

A write answers what reads would render: one inserted row as a JSON object, several as a
JSON array in the order given (the ``WritePlan`` does not say whether one row came as
``{"data": [...]}``: the caller wraps that case).

Integrity errors become ``NotNullViolation``, ``UniqueViolation``, ``ForeignKeyViolation``
and ``CheckViolation`` in one function per engine (``SqlEngine.constraint_violation``),
with the driver's exception as ``__cause__``; the transaction is rolled back first.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection

from dbplane.engines.base import exception_chain
from dbplane.engines.sql.compile import (
    STATEMENT_CACHE,
    CompiledRead,
    StatementCache,
    compiled_values,
)
from dbplane.engines.sql.dialect import MAX_SAFE_INTEGER, TablesDialect
from dbplane.engines.sql.engine import SlowRead, SqlEngine
from dbplane.engines.sql.reconnect import (
    connection_lost,
    drop_pool,
    introspect,
    reraise,
    schema_version,
)
from dbplane.engines.sql.writes import (
    bulk_write,
    delete_statement,
    insert_statements,
    run_statements,
    update_statement,
    update_then_read_statements,
)
from dbplane.errors import (
    ConstraintViolation,
    DbplaneError,
    ReadOnlyTable,
    RecordNotFound,
    SchemaChanged,
    Unavailable,
    UniqueViolation,
    ValueRejected,
)
from dbplane.query.keys import format_key
from dbplane.query.model import ColumnInfo, ReadPlan, TableInfo, WritePlan

__all__ = [
    "MAX_SAFE_INTEGER",
    "STATEMENT_CACHE",
    "PreparedRead",
    "StatementCache",
    "introspect",
    "list_answer",
    "prepare_read",
    "read_record",
    "read_rows",
    "record_answer",
    "run_read",
    "schema_version",
    "write",
    "write_where",
]


# -- reads ------------------------------------------------------------------------------


def _body(value: Any) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode()
    raise DbplaneError(
        "the database answered no JSON for a page of rows: on MariaDB the page is larger "
        "than max_allowed_packet; ask for fewer rows")


async def _first_row(conn: AsyncConnection, d: TablesDialect, sql: str,
                     args: tuple[Any, ...], direct: bool) -> tuple[Any, ...] | None:
    """The first row of a compiled read: on the driver's connection when the dialect
    allows (``TablesDialect.direct``), else through SQLAlchemy's."""
    if direct and d.direct:
        raw = await conn.get_raw_connection()
        try:
            return await d.fetch_direct(raw.driver_connection, sql, args)
        except BaseException:
            # past SQLAlchemy, a broken connection would go back to the pool unnoticed
            await conn.invalidate()
            raise
    row = (await conn.exec_driver_sql(sql, args)).first()
    return None if row is None else tuple(row)


async def _read(engine: SqlEngine, sql: str, args: tuple[Any, ...]) -> tuple[Any, ...] | None:
    """The first row of a compiled read: on SQLite on the event loop when it is quick
    (``SqliteEngine.read_direct``); on PostgreSQL on the engine's read pool
    (``direct_read``); else on the pool's connection. The pools have no pre-ping, so a
    read on a connection the server dropped is run once more on fresh connections
    (reads can be repeated)."""
    if engine.direct_read_budget > 0:
        try:
            return engine.read_direct(sql, args)
        except SlowRead:
            pass
    if engine.direct_reads:
        try:
            return await engine.direct_read(sql, args)
        except Exception as exc:
            if not connection_lost(engine, exc):
                reraise(engine, exc)
            # the server dropped them all, most likely: the writes' pool's too
            await engine.drop_read_connections()
            await drop_pool(engine)
        try:
            return await engine.direct_read(sql, args)
        except Exception as exc:
            reraise(engine, exc)
    try:
        async with engine.sa_engine.connect() as conn:
            return await _first_row(conn, engine.tables_dialect, sql, args, True)
    except Exception as exc:
        if not connection_lost(engine, exc):
            reraise(engine, exc)
        await drop_pool(engine)
    try:
        async with engine.sa_engine.connect() as conn:
            return await _first_row(conn, engine.tables_dialect, sql, args, True)
    except Exception as exc:
        reraise(engine, exc)


def schema_changed(engine: SqlEngine, exc: BaseException) -> SchemaChanged | None:
    """The 409 for a statement naming a table or column the database does not have, if
    ``exc`` is one: the statement was built from a schema that has changed since (behind
    dbplane's back; the service reads the schema again and plans once more)."""
    for cur in exception_chain(exc):
        if engine.undefined_object(cur):
            reason = str(cur).strip().splitlines()
            return SchemaChanged("the table changed while the request ran: "
                                 f"{reason[0] if reason else type(cur).__name__}")
    return None


def data_error(engine: SqlEngine, exc: BaseException) -> ValueRejected | None:
    """The 400 for a value the database refused as data (too long, out of range, not of
    the column's type), if ``exc`` is one: through SQLAlchemy (``DataError``) or from a
    driver connection used directly (as the engine reads its driver's errors)."""
    for cur in exception_chain(exc):
        if (isinstance(cur, sa.exc.DataError) or type(cur).__name__ == "DataError"
                or isinstance(cur, OverflowError) or engine.rejected_value(cur)):
            message = str(getattr(cur, "orig", None) or cur).strip().splitlines()
            reason = message[0] if message else type(cur).__name__
            return ValueRejected(f"the database refused a value: {reason}")
    return None


@dataclass(frozen=True, slots=True)
class PreparedRead:
    """A read compiled for one engine with its values converted for the driver: what a
    request's query string comes to, kept by the service and run again for every request
    with the same one (``run_read``). A record read keeps its values without the key's;
    ``arguments(key)`` adds them. A counted list on PostgreSQL takes the snapshot of the
    total the caller knows (``list_arguments``), and counts again only when the data
    changed since (``list_answer``)."""

    sql: str
    args: tuple[Any, ...]
    """The driver arguments of a list read (a record read: those without the key)."""
    count_exact: bool
    entry: CompiledRead
    head: tuple[Any, ...]
    """A record read: the converted values that come before the key's."""
    dialect: TablesDialect
    values: tuple[Any, ...] = ()
    """All the converted values (a list read's, for ``list_arguments``)."""

    @property
    def snapshot_counts(self) -> bool:
        """Whether the statement counts only when the data changed (see the class)."""
        return self.entry.snapshot is not None

    def arguments(self, key: tuple[tuple[ColumnInfo, Any], ...]) -> tuple[Any, ...]:
        """A record read's driver arguments for one key (planned by ``query.plan``)."""
        d = self.dialect
        return self.entry.arguments(
            [*self.head, *(d.filter_value(col, value, False) for col, value in key)])

    def list_arguments(self, known_snapshot: str) -> tuple[Any, ...]:
        """A counted list's driver arguments, given the snapshot of the total the caller
        knows ('' when none)."""
        return self.entry.arguments(list(self.values), known_snapshot)


def prepare_read(engine: SqlEngine, plan: ReadPlan) -> PreparedRead:
    """Compile ``plan`` for ``engine`` (from the statement cache when its shape was seen)
    and convert its values."""
    d = engine.tables_dialect
    entry, values = compiled_values(d, engine.sa_engine.dialect, plan)
    head: tuple[Any, ...] = ()
    if plan.key is not None:
        head = tuple(values[:len(values) - len(plan.key)])
    return PreparedRead(sql=entry.sql, args=entry.arguments(values),
                        count_exact=plan.count_exact, entry=entry, head=head,
                        dialect=d, values=tuple(values))


async def run_read(engine: SqlEngine, sql: str,
                   args: tuple[Any, ...]) -> tuple[Any, ...] | None:
    """The one row of a prepared read (the JSON body, and the total of a counted list),
    or None; a value the database refuses is ValueRejected (400), a table or column the
    statement names and the database no longer has SchemaChanged (409)."""
    try:
        return await _read(engine, sql, args)
    except Exception as exc:
        rejected = data_error(engine, exc) or schema_changed(engine, exc)
        if rejected is None:
            raise
        raise rejected from exc


def list_answer(prepared: PreparedRead, row: tuple[Any, ...] | None,
                known_total: int | None = None) -> tuple[bytes, int | None, str | None]:
    """A list read's row as (the JSON array, the total when counted, the snapshot of
    that total when the statement names it). ``known_total``: the total of the snapshot
    given to ``list_arguments``, which the statement answers as -1 when it is its own."""
    if row is None:
        raise DbplaneError("the database answered no row for a page")
    if not prepared.count_exact:
        return _body(row[0]), None, None
    total = int(row[1])
    snapshot = str(row[2]) if prepared.snapshot_counts else None
    if total < 0:
        if known_total is None:
            raise DbplaneError("the database answered the known total (-1), but none was given")
        total = known_total
    return _body(row[0]), total, snapshot


def record_answer(row: tuple[Any, ...] | None) -> bytes | None:
    """A record read's row as the JSON object, or None when there is no such record."""
    return None if row is None or row[0] is None else _body(row[0])


async def read_rows(engine: SqlEngine, plan: ReadPlan) -> tuple[bytes, int | None]:
    """The rows of ``plan`` as one JSON array (UTF-8), and the number of rows matching
    its filters when ``plan.count_exact`` (else None); one statement, one round trip."""
    if plan.key is not None:
        raise ValueError("read_rows is for lists; a plan with a key is read_record's")
    prepared = prepare_read(engine, plan)
    body, total, _ = list_answer(prepared, await run_read(engine, prepared.sql, prepared.args))
    return body, total


async def read_record(engine: SqlEngine, plan: ReadPlan) -> bytes | None:
    """The record of ``plan.key`` (and ``plan.where``, if set) as one JSON object, or
    None when there is none."""
    if plan.key is None:
        raise ValueError("read_record needs a plan with a key")
    prepared = prepare_read(engine, plan)
    return record_answer(await run_read(engine, prepared.sql, prepared.args))


# -- writes -----------------------------------------------------------------------------

def _key_text(key: tuple[tuple[ColumnInfo, Any], ...]) -> str:
    return format_key([v.isoformat() if hasattr(v, "isoformat") else str(v)
                       for _, v in key])


def _joined(rows: list[tuple[Any, ...]]) -> list[bytes]:
    return [_body(r[0]) for r in rows]


async def _write(engine: SqlEngine, plan: WritePlan) -> bytes | None:
    info = plan.table
    returning = plan.returning or info.columns
    if plan.action == "insert":
        statements = insert_statements(engine, info, plan.rows, returning, plan.conflict,
                                       plan.resolution)
        answers = [a for rows in await run_statements(engine, statements)
                   for a in _joined(rows)]
        if len(answers) != len(plan.rows) and plan.resolution != "ignore-duplicates":
            raise DbplaneError(f"the records inserted into {info.name!r} cannot be read back")
        if len(answers) == 1 and len(plan.rows) == 1:
            return answers[0]
        return b"[" + b",".join(answers) + b"]"
    if plan.key is None:
        raise ValueError("an update or a delete has a key")
    if plan.action == "delete":
        (deleted,) = await run_statements(engine, [delete_statement(engine, info, plan.key)])
        if not deleted:
            raise RecordNotFound(table=info.name, key=_key_text(plan.key))
        return None
    if len(plan.rows) != 1:
        raise ValueError("an update has a key and one row of changes")
    statement = update_statement(engine, info, plan.rows[0], plan.key, returning)
    if statement is None:
        statements = update_then_read_statements(engine, info, plan.rows[0], plan.key,
                                                 returning)
        updated = (await run_statements(engine, statements))[-1]
        if not updated or updated[0][0] is None:
            raise RecordNotFound(table=info.name, key=_key_text(plan.key))
        return _body(updated[0][0])
    (updated,) = await run_statements(engine, [statement])
    if not updated:
        raise RecordNotFound(table=info.name, key=_key_text(plan.key))
    return _body(updated[0][0])


async def write(engine: SqlEngine, plan: WritePlan) -> bytes | None:
    """Run one write in one transaction and answer what was stored, rendered as reads
    render it: for an insert the record (a JSON array of them, in the given order, for
    more than one row) with generated keys and server defaults; for an update the
    record; for a delete None. Inserts, and updates and deletes by key, are single
    statements that render what they wrote (``sql.writes``).

    RecordNotFound when the key matches nothing (update, delete); a ConstraintViolation
    subclass when the database refuses the write. Either way nothing is written.
    """
    written: bytes | None = (await _guarded(engine, plan, False))[0]
    return written


async def write_where(engine: SqlEngine, plan: WritePlan,
                      render: bool) -> tuple[bytes | None, int]:
    """Run a bulk update or delete (``plan.where``; ``plan.key`` None) in one transaction:
    the touched rows as one JSON array when ``render`` (as reads render them, ordered as
    the database wrote them), and how many. More than ``plan.max_affected`` rows:
    TooManyAffected, and nothing is changed."""
    return await _guarded(engine, plan, render)


async def _guarded(engine: SqlEngine, plan: WritePlan,
                   render: bool) -> tuple[bytes | None, int]:
    info = plan.table
    if info.kind == "view" or not info.primary_key:
        raise ReadOnlyTable(f"{info.name!r} is a view or has no primary key: it can be "
                            "read, not written", table=info.name)
    try:
        if plan.key is None and plan.action != "insert":
            return await bulk_write(engine, plan, render)
        return await _write(engine, plan), 1
    except Exception as exc:
        if connection_lost(engine, exc):
            # not repeated: whether the server committed before it went is unknown;
            # the other connections were most likely dropped too
            await drop_pool(engine)
            await engine.drop_read_connections()
            raise Unavailable(f"the connection to the database was lost during the "
                              f"{plan.action}; it may or may not have been applied: read "
                              "the record to see, then retry", table=info.name) from exc
        if isinstance(exc, DbplaneError):
            raise
        changed = schema_changed(engine, exc)
        if changed is not None:
            changed.fields["table"] = info.name
            raise changed from exc
        written = {name for row in plan.rows for name in row}
        error = engine.constraint_violation(exc, info, written)
        if error is None:
            rejected = data_error(engine, exc)
            if rejected is None:
                raise
            raise rejected from exc
        if isinstance(error, UniqueViolation) and not error.fields.get("constraint"):
            await _name_unique(engine, info, error)
        raise error from exc


async def _name_unique(engine: SqlEngine, info: TableInfo, error: ConstraintViolation) -> None:
    """SQLite names the columns of a broken unique constraint, not the constraint: find it
    by its columns among the table's unique constraints, unique indexes and key."""
    columns = error.fields.get("columns")
    if not columns:
        return
    wanted = list(columns)

    def find(sync_conn: sa.Connection) -> str | None:
        insp = sa.inspect(sync_conn)
        pk = insp.get_pk_constraint(info.name)
        if list(pk.get("constrained_columns") or []) == wanted:
            return pk.get("name") or "PRIMARY KEY"
        for uq in insp.get_unique_constraints(info.name):
            if list(uq["column_names"]) == wanted and uq.get("name"):
                return str(uq["name"])
        for ix in insp.get_indexes(info.name):
            if ix.get("unique") and list(ix["column_names"]) == wanted and ix.get("name"):
                return str(ix["name"])
        return None

    try:
        async with engine.sa_engine.connect() as conn:
            name = await conn.run_sync(find)
    except DBAPIError:  # the name is a courtesy: the error stands without it
        return
    if name is not None:
        error.fields["constraint"] = name
        error.detail = re.sub(r"\(constraint [^)]*\)$", "", error.detail).rstrip() + \
            f" (constraint {name})"
