"""Routines against a SQL database: the applied-migrations table, the database-level
migration lock, migrations run statement by statement or through Alembic's Operations,
and the batched inserts of factories and seeders.

Locks: PostgreSQL ``pg_try_advisory_xact_lock`` (released at commit or rollback), MariaDB
``GET_LOCK`` (released at the end), SQLite ``BEGIN IMMEDIATE`` (the file's write lock).
A run that cannot take the lock within ``lock_wait`` seconds is MigrationsLocked (409);
the decision of what to run is made under the lock, so two runs never apply one
migration twice.

Where DDL is transactional (SQLite, PostgreSQL) a run is one transaction: a failure leaves
the database as it was. On MariaDB each migration is recorded as soon as it succeeds, and
a failure says which statement failed and what was left applied.
"""

from __future__ import annotations

import datetime as dt
import decimal
import io
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from alembic.migration import MigrationContext
from alembic.operations import Operations
from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError, NoSuchTableError, StatementError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from dbplane.engines.base import Engine
from dbplane.engines.sql.ddl import DdlDialect
from dbplane.engines.sql.lock import DatabaseLock, LockBusy, lock_of
from dbplane.engines.urls import redact_text
from dbplane.errors import MigrationFailed, MigrationsLocked, RoutineRowRejected
from dbplane.routines.specs import ColumnShape, TableShape

__all__ = [
    "LEDGER_TABLE",
    "Applied",
    "RunOutcome",
    "Step",
    "describe_table",
    "insert_rows",
    "read_ledger",
    "ref_values",
    "render_offline",
    "run_script",
    "run_steps",
    "split_script",
    "upsert_rows",
]

LEDGER_TABLE = "dbplane_migrations"
BATCH_ROWS = 1000


def _ledger(metadata: sa.MetaData | None = None) -> sa.Table:
    return sa.Table(
        LEDGER_TABLE, metadata or sa.MetaData(),
        sa.Column("migration", sa.String(191), primary_key=True),
        sa.Column("checksum", sa.String(64), nullable=False),
        sa.Column("batch", sa.Integer, nullable=False),
        sa.Column("applied_at", sa.BigInteger, nullable=False,
                  comment="epoch milliseconds"),
    )


@dataclass(frozen=True)
class Applied:
    """A row of the applied-migrations table."""

    migration: str
    checksum: str
    batch: int
    applied_at: int


@dataclass
class Step:
    """One migration to apply (``up``) or revert (``down``): SQL statements, or a Python
    function of Alembic's ``op``."""

    migration: str
    checksum: str
    statements: list[str] | None = None
    function: Callable[[Operations], Any] | None = None


@dataclass
class RunOutcome:
    done: list[Step] = field(default_factory=list)
    batch: int | None = None


def _sa(engine: Engine) -> AsyncEngine:
    sa_engine: AsyncEngine = engine.sa_engine  # type: ignore[attr-defined]
    return sa_engine


def _ddl(engine: Engine) -> DdlDialect:
    ddl: DdlDialect = engine.ddl_dialect  # type: ignore[attr-defined]
    return ddl


def split_script(engine: Engine, sql: str) -> list[str]:
    """The statements of a SQL script, as this engine's SQL reads them (quotes, comments,
    dollar quotes or backslash escapes)."""
    return _ddl(engine).statements(sql)


def _first_line(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None) or exc
    lines = redact_text(str(orig)).strip().splitlines()
    return lines[0] if lines else type(orig).__name__


# -- the ledger ------------------------------------------------------------------------


def _read(conn: Connection) -> list[Applied]:
    table = _ledger()
    if not sa.inspect(conn).has_table(LEDGER_TABLE):
        return []
    rows = conn.execute(sa.select(table).order_by(table.c.batch, table.c.migration))
    return [Applied(r.migration, r.checksum, r.batch, r.applied_at) for r in rows]


async def read_ledger(engine: Engine) -> list[Applied]:
    """The applied migrations, oldest batch first (none when the table does not exist)."""
    async with _sa(engine).connect() as conn:
        return await conn.run_sync(_read)


# -- running migrations ----------------------------------------------------------------


def _apply(conn: Connection, ddl: DdlDialect, step: Step, executed: list[str]) -> None:
    if step.statements is not None:
        for statement in step.statements:
            conn.exec_driver_sql(ddl.as_written(statement))
            executed.append(statement)
        return
    assert step.function is not None
    ctx = MigrationContext.configure(connection=conn)
    step.function(Operations(ctx))


def _run(conn: Connection, choose: Callable[[list[Applied]], tuple[list[Step], str]],
         ddl: DdlDialect, lock: DatabaseLock, lock_wait: float, now_ms: int) -> RunOutcome:
    transactional = lock.transactional_ddl
    try:
        lock.acquire(conn, lock_wait)
    except LockBusy as exc:
        raise MigrationsLocked(f"another migration run held this database's lock ({exc}) "
                               f"for more than {lock_wait:g} s; try again") from exc
    executed: list[str] = []

    def _record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        executed.append(statement)

    try:
        ledger = _ledger()
        ledger.create(conn, checkfirst=True)
        applied = _read(conn)
        steps, direction = choose(applied)
        outcome = RunOutcome(batch=max((a.batch for a in applied), default=0) + 1)
        for step in steps:
            executed.clear()
            try:
                if step.statements is None:
                    event.listen(conn, "after_cursor_execute", _record)
                    try:
                        _apply(conn, ddl, step, executed)
                    finally:
                        event.remove(conn, "after_cursor_execute", _record)
                else:
                    _apply(conn, ddl, step, executed)
            except DBAPIError as exc:
                conn.rollback()
                raise _failure(step, exc, executed, outcome.done, transactional,
                               direction) from exc
            except Exception as exc:  # an error of a Python migration itself
                conn.rollback()
                raise _failure(step, exc, executed, outcome.done, transactional,
                               direction) from exc
            if direction == "up":
                conn.execute(ledger.insert().values(
                    migration=step.migration, checksum=step.checksum, batch=outcome.batch,
                    applied_at=now_ms))
            else:
                conn.execute(ledger.delete().where(ledger.c.migration == step.migration))
            if not transactional:
                conn.commit()
            outcome.done.append(step)
        conn.commit()
        return outcome
    except BaseException:
        if conn.in_transaction():
            conn.rollback()
        raise
    finally:
        lock.release(conn)


def _failure(step: Step, exc: BaseException, executed: list[str], done: list[Step],
             transactional: bool, direction: str) -> MigrationFailed:
    statement = getattr(exc, "statement", None)
    if step.statements is not None and len(executed) < len(step.statements):
        statement = step.statements[len(executed)]  # as written in the file
    index = len(executed) + 1
    what = "migration" if direction == "up" else "rollback of"
    detail = f"{what} {step.migration}: statement {index} failed: {_first_line(exc)}"
    if transactional:
        detail += "; the run was rolled back, nothing of it is applied"
        left: list[str] = []
        partial: list[str] = []
    else:
        left = [s.migration for s in done]
        partial = list(executed)
        state = "applied" if direction == "up" else "reverted"
        detail += (f"; MariaDB cannot roll DDL back: left {state}: "
                   + (", ".join(left) or "no whole migration"))
        if partial:
            detail += (f", and {len(partial)} statement(s) of {step.migration} before the "
                       "one that failed")
    return MigrationFailed(detail, migration=step.migration, statement=statement,
                           statement_index=index, error=_first_line(exc),
                           rolled_back=transactional, left_applied=left,
                           partial_statements=partial)


async def run_steps(engine: Engine,
                    choose: Callable[[list[Applied]], tuple[list[Step], str]], *,
                    lock_wait: float, now_ms: int) -> RunOutcome:
    """Take the database's migration lock, create the applied-migrations table if needed,
    call ``choose(applied)`` for the steps to run and their direction (``up`` records
    each step as applied in a new batch, ``down`` removes it), run them and commit."""
    async with _sa(engine).connect() as conn:
        return await conn.run_sync(_run, choose, _ddl(engine), lock_of(engine), lock_wait,
                                    now_ms)


def render_offline(engine: Engine, function: Callable[[Operations], Any]) -> list[str]:
    """The SQL a Python migration would run, rendered by Alembic's offline mode."""
    buffer = io.StringIO()
    ctx = MigrationContext.configure(dialect_name=_sa(engine).dialect.name, opts={
        "as_sql": True, "output_buffer": buffer, "literal_binds": True})
    function(Operations(ctx))
    return _ddl(engine).statements(buffer.getvalue())


# -- tables of factories and seeders ----------------------------------------------------


def _reflect(conn: Connection, name: str) -> sa.Table | None:
    try:
        return sa.Table(name, sa.MetaData(), autoload_with=conn)
    except NoSuchTableError:
        return None


def _shape(table: sa.Table) -> TableShape:
    pk = list(table.primary_key.columns)
    auto_pk = len(pk) == 1 and isinstance(pk[0].type, sa.Integer)
    columns = {}
    for col in table.columns:
        has_default = (col.server_default is not None or col.identity is not None
                       or col.computed is not None or (auto_pk and col is pk[0]
                                                       and col.autoincrement is not False))
        columns[col.name] = ColumnShape(col.name, bool(col.nullable), has_default)
    return TableShape(table.name, columns)


async def describe_table(engine: Engine, name: str) -> TableShape | None:
    """The columns of a table (None when the database has no such table)."""
    async with _sa(engine).connect() as conn:
        table = await conn.run_sync(_reflect, name)
    return None if table is None else _shape(table)


async def ref_values(engine: Engine, table_name: str, column: str,
                     limit: int = 100_000) -> list[Any]:
    """Existing values of ``table.column`` that a factory may refer to."""
    async with _sa(engine).connect() as conn:
        table = await conn.run_sync(_reflect, table_name)
        if table is None or column not in table.c:
            return []
        col = table.c[column]
        rows = await conn.execute(sa.select(col).where(col.isnot(None)).distinct()
                                  .order_by(col).limit(limit))
        return [r[0] for r in rows]


def _converter(col: sa.Column[Any]) -> Callable[[Any], Any] | None:
    try:
        py = col.type.python_type
    except NotImplementedError:
        return None
    if py is bool:
        return lambda v: v.strip().lower() in ("1", "true", "t", "yes", "y", "on") \
            if isinstance(v, str) else v
    if py in (int, float, decimal.Decimal):
        return lambda v: py(v) if isinstance(v, str) else v
    if py is dt.datetime:
        return lambda v: (dt.datetime.fromisoformat(v) if isinstance(v, str) else
                          dt.datetime.combine(v, dt.time()) if type(v) is dt.date else v)
    if py is dt.date:
        return lambda v: (dt.date.fromisoformat(v) if isinstance(v, str) else
                          v.date() if isinstance(v, dt.datetime) else v)
    if py is dt.time:
        return lambda v: dt.time.fromisoformat(v) if isinstance(v, str) else v
    if py is str:
        return lambda v: v if v is None or isinstance(v, str) else (
            v.isoformat() if isinstance(v, dt.date | dt.time) else str(v))
    return None


def _coerce_rows(table: sa.Table, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    names = {k for row in rows for k in row}
    converters = {n: c for n in names if (c := _converter(table.c[n])) is not None}
    if not converters:
        return rows
    out = []
    for i, row in enumerate(rows):
        new = dict(row)
        for name, conv in converters.items():
            value = new.get(name)
            if value is not None:
                try:
                    new[name] = conv(value)
                except (ValueError, TypeError, decimal.InvalidOperation) as exc:
                    raise RoutineRowRejected(
                        f"row {i + 1}: {value!r} is not a valid value for the column "
                        f"{name!r} of {table.name!r}", table=table.name, column=name,
                        row=i + 1) from exc
        out.append(new)
    return out


# what a refused row raises: SQLAlchemy's wrapped driver errors, and the TypeError or
# ValueError some drivers (asyncmy) raise for a value they cannot send
_ROW_ERRORS = (StatementError, TypeError, ValueError)


def _rejected(table: str, exc: Exception, where: str) -> RoutineRowRejected:
    return RoutineRowRejected(f"{table}: the database refused {where}: {_first_line(exc)}; "
                              "nothing was written", table=table, error=_first_line(exc))


async def _table(conn: AsyncConnection, name: str) -> sa.Table:
    table = await conn.run_sync(_reflect, name)
    if table is None:  # checked before; dropped meanwhile
        raise RoutineRowRejected(f"the database has no table {name!r}", table=name)
    return table


async def insert_rows(engine: Engine, table_name: str,
                      batches: AsyncIterator[list[dict[str, Any]]]) -> int:
    """Insert every batch in one transaction (``executemany`` per batch); a refused row
    rolls all of it back. Answers the number of rows inserted."""
    total = 0
    try:
        async with _sa(engine).begin() as conn:
            table = await _table(conn, table_name)
            insert = table.insert()
            async for batch in batches:
                if batch:
                    await conn.execute(insert, batch)
                    total += len(batch)
    except _ROW_ERRORS as exc:  # the driver's errors, and values it cannot send
        raise _rejected(table_name, exc, f"a row (near row {total + 1})") from exc
    return total


async def upsert_rows(engine: Engine, table_name: str, rows: list[dict[str, Any]],
                      key: Sequence[str]) -> tuple[int, int]:
    """Write fixed rows in one transaction: with a ``key``, rows whose key exists are
    updated and the others inserted (so a second run adds nothing). Answers
    (inserted, updated)."""
    try:
        async with _sa(engine).begin() as conn:
            table = await _table(conn, table_name)
            rows = _coerce_rows(table, rows)
            existing: set[tuple[Any, ...]] = set()
            if key:
                cols = [table.c[k] for k in key]
                wanted = list({tuple(r.get(k) for k in key) for r in rows})
                for i in range(0, len(wanted), BATCH_ROWS):
                    chunk = wanted[i:i + BATCH_ROWS]
                    cond = (cols[0].in_([w[0] for w in chunk]) if len(cols) == 1
                            else sa.tuple_(*cols).in_(chunk))
                    found = await conn.execute(sa.select(*cols).where(cond))
                    existing.update(tuple(r) for r in found)
            inserts = [r for r in rows if not key
                       or tuple(r.get(k) for k in key) not in existing]
            updates = [r for r in rows if key and tuple(r.get(k) for k in key) in existing]
            for i in range(0, len(inserts), BATCH_ROWS):
                await conn.execute(table.insert(), inserts[i:i + BATCH_ROWS])
            await _update(conn, table, updates, key)
    except _ROW_ERRORS as exc:
        raise _rejected(table_name, exc, "a row") from exc
    return len(inserts), len(updates)


async def _update(conn: AsyncConnection, table: sa.Table, rows: list[dict[str, Any]],
                  key: Sequence[str]) -> None:
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row in rows:
        values = tuple(sorted(c for c in row if c not in key))
        if values:
            groups.setdefault(values, []).append(row)
    for values, group in groups.items():
        stmt = (table.update()
                .where(*[table.c[k] == sa.bindparam(f"k_{k}") for k in key])
                .values({c: sa.bindparam(f"v_{c}") for c in values}))
        params = [{**{f"k_{k}": r[k] for k in key}, **{f"v_{c}": r[c] for c in values}}
                  for r in group]
        await conn.execute(stmt, params)


async def run_script(engine: Engine, statements: list[str], name: str) -> int:
    """Run a SQL seeder's statements in one transaction; answers how many ran."""
    done = 0
    ddl = _ddl(engine)
    try:
        async with _sa(engine).begin() as conn:
            for statement in statements:
                await conn.exec_driver_sql(ddl.as_written(statement))
                done += 1
    except DBAPIError as exc:
        raise RoutineRowRejected(
            f"{name}: statement {done + 1} failed: {_first_line(exc)}; nothing was "
            "written", statement_index=done + 1, error=_first_line(exc)) from exc
    return done
