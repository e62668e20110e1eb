"""Schema as code on SQL engines: read a database's schema as a snapshot, and apply a plan.

Reading: the one reflection of the database (``sql.reflect``: SQLAlchemy reflection and
the type's catalog query, with indexes, unique constraints and checks), as the snapshot's
collections, fields and relations (``LiveSchema``).

Applying: Alembic's ``Operations`` on the live connection. SQLite rebuilds a table in
batch mode (rows and indexes kept) inside one transaction, with foreign keys checked before
the commit; PostgreSQL runs the whole plan in one transaction; MariaDB commits every DDL
statement, so the plan runs in order and stops at the first failure, saying what was and was
not applied. Every apply holds the database's own lock (the routines' migration lock) and
reads the schema again under it, so applies from several replicas run one after the other
and a plan made for a schema changed meanwhile is refused. ``render_sql`` answers the
statements without changing anything.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import sqlalchemy as sa
from alembic.operations import Operations
from alembic.runtime.migration import MigrationContext
from sqlalchemy import event
from sqlalchemy.engine import Connection

from dbplane.engines.base import exception_chain, network_error
from dbplane.engines.sql.catalog import CatalogDialect
from dbplane.engines.sql.engine import SqlEngine
from dbplane.engines.sql.lock import DatabaseLock, LockBusy, lock_of
from dbplane.engines.sql.reflect import EXPRESSION_INDEX, LiveSchema, live_schema, reflect
from dbplane.errors import SchemaApplyFailed, StaleSchemaHash, Unavailable
from dbplane.schema.plan import (
    AddColumn,
    AlterColumn,
    Change,
    ColumnSpec,
    CreateCheck,
    CreateIndex,
    CreateRelation,
    CreateTable,
    DropCheck,
    DropColumn,
    DropIndex,
    DropRelation,
    DropTable,
    IndexSpec,
    SetPrimaryKey,
    constraint_name,
)
from dbplane.schema.types import ColumnType

__all__ = ["LOCK_WAIT", "LiveSchema", "apply_plan", "read_schema", "render_sql"]

LOCK_WAIT = 30.0
"""Seconds an apply waits for another apply (or migration run) to release the lock."""


# -- reading ----------------------------------------------------------------------------


def _read(conn: Connection, catalog: CatalogDialect) -> LiveSchema:
    return live_schema(reflect(conn, catalog, views=False, full=True), catalog)


def _unreachable(engine: SqlEngine, exc: BaseException) -> Unavailable | None:
    """503 for a database that cannot be reached (host, port, credentials, a database
    dropped behind dbplane's back), as the engine reads its driver's errors."""
    if isinstance(exc, sa.exc.DBAPIError) and exc.connection_invalidated:
        return Unavailable("the connection to the database was lost; retry")
    known = network_error(exc, engine.url) or engine.connect_error(exc)
    if known is None:
        return None
    return Unavailable(f"the database does not answer: {known.detail}")


async def read_schema(engine: SqlEngine) -> LiveSchema:
    """The database's tables, columns, keys, indexes, checks and foreign keys.
    Unavailable (503) when the database does not answer."""
    catalog = engine.catalog_dialect
    try:
        return await catalog.run_read(engine, partial(_read, catalog=catalog))
    except Exception as exc:
        down = _unreachable(engine, exc)
        if down is None:
            raise
        raise down from exc


# -- applying ---------------------------------------------------------------------------


def _sa_type(t: ColumnType, dialect: str) -> Any:
    kind = t.kind
    if kind == "string":
        return sa.String(t.length)
    if kind == "text":
        return sa.Text()
    if kind == "integer":
        return sa.Integer()
    if kind == "bigInteger":
        return sa.BigInteger()
    if kind == "float":
        return sa.Float()
    if kind == "decimal":
        return sa.Numeric(t.precision, t.scale)
    if kind == "boolean":
        return sa.Boolean()
    if kind == "timestamp":
        return sa.DateTime(timezone=True) if dialect == "postgresql" else sa.TIMESTAMP()
    if kind == "dateTime":
        return sa.DateTime()
    if kind == "date":
        return sa.Date()
    if kind == "time":
        return sa.Time()
    if kind == "json":
        return sa.JSON()
    if kind == "uuid":
        return sa.UUID()
    if kind == "binary":
        return sa.LargeBinary()
    raise AssertionError(kind)  # pragma: no cover (types.column_type refuses the rest)


_EXPRESSIONS = {"CURRENT_TIMESTAMP", "CURRENT_DATE", "CURRENT_TIME", "NOW()",
                "CURRENT_TIMESTAMP()", "GEN_RANDOM_UUID()", "UUID()"}


def _server_default(col: ColumnSpec, dialect: str) -> Any:
    value = col.default
    if value is None or col.auto_increment:
        return None
    if isinstance(value, bool):
        return sa.text(("true" if value else "false") if dialect == "postgresql"
                       else ("1" if value else "0"))
    if isinstance(value, int | float):
        return sa.text(repr(value)) if dialect != "mysql" else sa.text(f"{value!r}")
    text = str(value)
    if text.upper() in _EXPRESSIONS:
        return sa.text(text)
    return text  # a literal: SQLAlchemy quotes it


def _column(col: ColumnSpec, dialect: str, pk: tuple[str, ...]) -> sa.Column[Any]:
    auto = col.auto_increment and pk == (col.name,)
    ctype = _sa_type(col.type, dialect)
    if auto and dialect == "sqlite":
        ctype = sa.Integer()  # only INTEGER PRIMARY KEY is the rowid
    return sa.Column(col.name, ctype, nullable=col.nullable,
                     server_default=_server_default(col, dialect),
                     primary_key=col.name in pk, autoincrement=auto if pk else False)


def _pg_quote(name: str) -> str:
    """An identifier quoted for PostgreSQL (it stores defaults in its own spelling)."""
    return '"' + name.replace('"', '""') + '"'


def _index_name(table: str, idx: IndexSpec) -> str:
    return constraint_name(table, idx.columns, "unique" if idx.unique else "index")


@dataclass
class _Runner:
    """Runs changes through one Operations object."""

    ops: Operations
    dialect: str
    live: LiveSchema | None
    targets: dict[str, set[IndexSpec]]
    created: set[str] = field(default_factory=set)
    dropped: set[str] = field(default_factory=set)

    def run(self, change: Change) -> None:
        getattr(self, f"_{type(change).__name__}")(change)

    def _names(self, table: str, idx: IndexSpec) -> tuple[str, str]:
        if self.live is not None and (table, idx) in self.live.index_names:
            return self.live.index_names[(table, idx)]
        return (_index_name(table, idx), "index")

    def _DropRelation(self, c: DropRelation) -> None:
        name = c.relation.name
        if self.dialect == "sqlite":
            if c.table in self.dropped:
                return  # the table goes, and its foreign keys with it
            live = next((r for r in (self.live.relations if self.live else [])
                         if r["collection"] == c.table
                         and r["field"] == c.relation.columns[0]), None)
            if live is not None and live["schema"]["constraint_name"] is None:
                name = f"fk_{c.table}_{c.relation.columns[0]}_{c.relation.ref_table}"
        self.ops.drop_constraint(name, c.table, type_="foreignkey")
        if self.dialect == "mysql" and self.live is not None and name in \
                self.live.fk_index_names.get(c.table, set()) and IndexSpec(
                    c.relation.columns, False) not in self.targets.get(c.table, set()):
            self.ops.drop_index(name, table_name=c.table)

    def _DropCheck(self, c: DropCheck) -> None:
        self.ops.drop_constraint(c.name, c.table, type_="check")

    def _DropIndex(self, c: DropIndex) -> None:
        name, kind = self._names(c.table, c.index)
        if kind == "constraint" and self.dialect != "mysql":
            self.ops.drop_constraint(name, c.table, type_="unique")
        else:
            self.ops.drop_index(name, table_name=c.table)

    def _DropTable(self, c: DropTable) -> None:
        self.ops.drop_table(c.table)

    def _CreateTable(self, c: CreateTable) -> None:
        spec = c.spec
        items: list[Any] = [_column(col, self.dialect, spec.primary_key)
                            for col in spec.columns.values()]
        if self.dialect == "sqlite":
            items.extend(_fk(rel) for rel in spec.relations.values())
            items.extend(sa.CheckConstraint(sa.text(expr), name=name)
                         for name, expr in spec.checks.items())
        self.ops.create_table(c.table, *items)

    def _AddColumn(self, c: AddColumn) -> None:
        self.ops.add_column(c.table, _column(c.column, self.dialect, ()))

    def _AlterColumn(self, c: AlterColumn) -> None:
        before, after = c.before, c.after
        kw: dict[str, Any] = {
            "existing_type": _sa_type(before.type, self.dialect),
            "existing_nullable": before.nullable,
            "existing_server_default": _server_default(before, self.dialect),
        }
        if self.dialect == "mysql":
            kw["existing_autoincrement"] = before.auto_increment
            if before.auto_increment != after.auto_increment:
                kw["autoincrement"] = after.auto_increment  # MODIFY ... [AUTO_INCREMENT]
        if before.type != after.type:
            kw["type_"] = _sa_type(after.type, self.dialect)
        if before.nullable != after.nullable:
            kw["nullable"] = after.nullable
        if before.default != after.default:
            kw["server_default"] = _server_default(after, self.dialect)
        if self.dialect == "postgresql" and after.auto_increment and \
                not before.auto_increment:
            kw["server_default"] = self._pg_serial(c.table, after.name)
        self.ops.alter_column(c.table, after.name, **kw)

    def _pg_serial(self, table: str, column: str) -> Any:
        """An existing column made auto-increment on PostgreSQL, as SERIAL makes it: a
        sequence owned by the column, past the largest value, as its default."""
        seq = sa.Sequence(f"{table}_{column}_seq")
        self.ops.execute(sa.schema.CreateSequence(seq, if_not_exists=True))
        self.ops.execute(sa.text(f"ALTER SEQUENCE {_pg_quote(seq.name)} OWNED BY "
                                 f"{_pg_quote(table)}.{_pg_quote(column)}"))
        regclass = _pg_quote(seq.name)
        col: sa.ColumnClause[Any] = sa.column(column)
        self.ops.execute(sa.select(sa.func.setval(
            regclass, sa.func.coalesce(sa.func.max(col), 0) + 1, False)).select_from(
                sa.table(table, col)))
        return sa.text(f"nextval('{regclass.replace(chr(39), chr(39) * 2)}'::regclass)")

    def _SetPrimaryKey(self, c: SetPrimaryKey) -> None:
        if c.before:
            name = (self.live.pk_names.get(c.table) if self.live else None) or \
                f"{c.table}_pkey"
            self.ops.drop_constraint(name, c.table, type_="primary")
        if c.after:
            self.ops.create_primary_key(f"{c.table}_pkey", c.table, list(c.after))

    def _DropColumn(self, c: DropColumn) -> None:
        self.ops.drop_column(c.table, c.column)

    def _CreateIndex(self, c: CreateIndex) -> None:
        self.ops.create_index(_index_name(c.table, c.index), c.table, list(c.index.columns),
                              unique=c.index.unique)

    def _CreateCheck(self, c: CreateCheck) -> None:
        if self.dialect == "sqlite" and c.table in self.created:
            return  # made with the table
        self.ops.create_check_constraint(c.name, c.table, sa.text(c.expression))

    def _CreateRelation(self, c: CreateRelation) -> None:
        r = c.relation
        if self.dialect == "sqlite" and c.table in self.created:
            return  # made with the table
        self.ops.create_foreign_key(r.name, c.table, r.ref_table, list(r.columns),
                                    list(r.ref_columns), onupdate=_action(r.on_update),
                                    ondelete=_action(r.on_delete))


def _action(value: str) -> str | None:
    return None if value == "NO ACTION" else value


def _fk(rel: Any) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(list(rel.columns),
                                   [f"{rel.ref_table}.{c}" for c in rel.ref_columns],
                                   name=rel.name, onupdate=_action(rel.on_update),
                                   ondelete=_action(rel.on_delete))


_SQLITE_NAMING = {
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
}


class _Declared(sa.types.UserDefinedType[Any]):
    """A column type SQLAlchemy does not know, declared again as SQLite has it (read from
    the database's own catalog, never from a request)."""

    cache_ok = True

    def __init__(self, declared: str) -> None:
        self.declared = declared

    def get_col_spec(self, **_kw: Any) -> str:
        return self.declared


class _SqliteOps:
    """Operations for SQLite: the changes to an existing table go through one batch (Alembic
    copies the table, its rows and its indexes, once per table)."""

    def __init__(self, ops: Operations,
                 declared: dict[str, dict[str, tuple[str, bool, str | None, bool]]]) -> None:
        self._ops = ops
        self._declared = declared
        self._open: tuple[str, Any] | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._ops, name)

    @contextmanager
    def table(self, table: str) -> Iterator[None]:
        """One batch for the changes to ``table`` made inside the block."""
        with self._rebuild(table) as batch:
            self._open = (table, batch)
            try:
                yield
            finally:
                self._open = None

    @contextmanager
    def _batch(self, table: str) -> Iterator[Any]:
        if self._open is not None and self._open[0] == table:
            yield self._open[1]
            return
        with self._rebuild(table) as batch:
            yield batch

    @contextmanager
    def _rebuild(self, table: str) -> Iterator[Any]:
        keep = tuple(
            sa.Column(name, _Declared(declared), nullable=nullable, primary_key=pk,
                      server_default=sa.text(default) if default is not None else None)
            for name, (declared, nullable, default, pk) in self._declared.get(
                table, {}).items())
        # a new primary key: SQLAlchemy warns that the copied columns' primary_key flags
        # differ from it, and takes the new key, which is what is asked
        # SQLite's own procedure for a rebuild (sqlite.org/lang_altertable.html): the
        # triggers and the expression indexes (reflection skips them, so the batch does
        # not copy them) go with the old table and are made again from the database's own
        # text (sqlite_master); the views that name the table are left as they are
        # (legacy_alter_table: the final RENAME neither checks nor rewrites them)
        bind = self._ops.get_bind()
        own = bind.execute(sa.text(
            "SELECT type, name, sql FROM sqlite_master WHERE type IN ('index', 'trigger') "
            "AND tbl_name = :t AND sql IS NOT NULL ORDER BY type"), {"t": table}).all()
        bind.exec_driver_sql("PRAGMA legacy_alter_table=ON")
        try:
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", r".*specifies columns .* as "
                                        r"primary_key=True", sa.exc.SAWarning)
                warnings.filterwarnings("ignore", EXPRESSION_INDEX, sa.exc.SAWarning)
                with self._ops.batch_alter_table(table, recreate="always",
                                                 reflect_args=keep,
                                                 naming_convention=_SQLITE_NAMING) as batch:
                    yield batch
        finally:
            bind.exec_driver_sql("PRAGMA legacy_alter_table=OFF")
        kept = set(bind.execute(sa.text(
            "SELECT name FROM sqlite_master WHERE tbl_name = :t"), {"t": table}).scalars())
        for _kind, name, sql in own:
            if name not in kept:
                bind.exec_driver_sql(sql)

    def drop_constraint(self, name: str, table: str, type_: str) -> None:
        if type_ == "primary":
            return  # the batch's create_primary_key replaces it
        with self._batch(table) as b:
            b.drop_constraint(name, type_=type_)

    def add_column(self, table: str, column: sa.Column[Any]) -> None:
        with self._batch(table) as b:
            b.add_column(column)

    def alter_column(self, table: str, column: str, **kw: Any) -> None:
        kw.pop("existing_autoincrement", None)
        with self._batch(table) as b:
            b.alter_column(column, **kw)

    def drop_column(self, table: str, column: str) -> None:
        with self._batch(table) as b:
            b.drop_column(column)

    def create_primary_key(self, name: str, table: str, columns: list[str]) -> None:
        with self._batch(table) as b:
            b.create_primary_key(name, columns)

    def create_check_constraint(self, name: str, table: str, expr: Any) -> None:
        with self._batch(table) as b:
            b.create_check_constraint(name, expr)

    def create_foreign_key(self, name: str, table: str, ref: str, cols: list[str],
                           ref_cols: list[str], **kw: Any) -> None:
        with self._batch(table) as b:
            b.create_foreign_key(name, ref, cols, ref_cols, **kw)


def _operations(conn: Connection | None, dialect: str, *,
                buffer: io.StringIO | None = None) -> Operations:
    if conn is not None:
        ctx = MigrationContext.configure(connection=conn)
    else:
        ctx = MigrationContext.configure(dialect_name=dialect,
                                         opts={"as_sql": True, "output_buffer": buffer,
                                               "literal_binds": True})
    return Operations(ctx)


def _targets(changes: list[Change]) -> dict[str, set[IndexSpec]]:
    out: dict[str, set[IndexSpec]] = {}
    for c in changes:
        if isinstance(c, CreateIndex):
            out.setdefault(c.table, set()).add(c.index)
    return out


def _runner(ops: Any, dialect: str, live: LiveSchema | None,
            changes: list[Change]) -> _Runner:
    return _Runner(ops, dialect, live, _targets(changes),
                   created={c.table for c in changes if isinstance(c, CreateTable)},
                   dropped={c.table for c in changes if isinstance(c, DropTable)})


def _first_line(exc: BaseException) -> str:
    for cur in exception_chain(exc):
        orig = getattr(cur, "orig", None)
        if orig is not None:
            args: tuple[Any, ...] = getattr(orig, "args", ())
            if len(args) == 2 and isinstance(args[0], int) and isinstance(args[1], str):
                return f"{args[1]} ({args[0]})"  # MariaDB's (errno, message)
            text = str(orig).strip().splitlines()
            return text[0] if text else type(orig).__name__
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


_BATCHED = (DropRelation, DropCheck, AddColumn, AlterColumn, SetPrimaryKey, DropColumn,
            CreateCheck, CreateRelation)


def _units(changes: list[Change], dialect: str) -> list[list[Change]]:
    """The changes in the order they run, in units that succeed or fail together: one
    change each, except SQLite's rebuilds: every change to one existing table in one
    batch, after the index drops and the new tables, before the tables dropped and the
    new indexes."""
    if dialect != "sqlite":
        return [[c] for c in changes]
    created = {c.table for c in changes if isinstance(c, CreateTable)}
    dropped = {c.table for c in changes if isinstance(c, DropTable)}
    first: list[list[Change]] = []
    batches: dict[str, list[Change]] = {}
    new_tables: list[list[Change]] = []
    gone_tables: list[list[Change]] = []
    last: list[list[Change]] = []
    for c in changes:
        if isinstance(c, _BATCHED) and c.table not in created | dropped:
            batches.setdefault(c.table, []).append(c)
        elif isinstance(c, CreateIndex):
            last.append([c])
        elif isinstance(c, DropRelation | CreateRelation | CreateCheck | DropCheck):
            continue  # goes with its table (dropped, or created with its keys and checks)
        elif isinstance(c, CreateTable):
            new_tables.append([c])
        elif isinstance(c, DropTable):
            gone_tables.append([c])
        else:
            first.append([c])
    # a rebuild reads the tables its foreign keys name: the new ones are made before it,
    # and the ones that go are dropped after it (it drops the foreign keys to them)
    return [*first, *new_tables, *batches.values(), *gone_tables, *last]


def _run_all(conn: Connection, dialect: str, changes: list[Change], live: LiveSchema,
             done: list[str], failing: list[str]) -> None:
    ops: Any = _operations(conn, dialect)
    sqlite_ops = _SqliteOps(ops, live.declared) if dialect == "sqlite" else None
    runner = _runner(sqlite_ops or ops, dialect, live, changes)
    for unit in _units(changes, dialect):
        failing[:] = [c.describe() for c in unit]
        if len(unit) > 1 and sqlite_ops is not None:
            with sqlite_ops.table(unit[0].table):
                for change in unit:
                    runner.run(change)
        else:
            runner.run(unit[0])
        done.extend(failing)
    failing.clear()


def _sqlite_apply(conn: Connection, catalog: CatalogDialect, lock: DatabaseLock,
                  changes: list[Change], live: LiveSchema, done: list[str],
                  failing: list[str]) -> None:
    # foreign keys off for the rebuilds (a table is dropped and renamed), checked once
    # before the commit; PRAGMA foreign_keys cannot change inside a transaction
    conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
    try:
        lock.acquire(conn, LOCK_WAIT)  # BEGIN IMMEDIATE: the file's write lock, to the commit
        try:
            _unchanged(conn, catalog, live)
            _run_all(conn, "sqlite", changes, live, done, failing)
            broken = conn.exec_driver_sql("PRAGMA foreign_key_check").all()
            if broken:
                raise _ForeignKeysBroken(f"rows of {broken[0][0]!r} refer to rows of "
                                         f"{broken[0][2]!r} that do not exist")
        except BaseException:
            conn.exec_driver_sql("ROLLBACK")
            raise
        conn.exec_driver_sql("COMMIT")
    finally:
        conn.exec_driver_sql("PRAGMA foreign_keys=ON")


# -- the lock ---------------------------------------------------------------------------
#
# An apply holds the database's own lock from before it reads the schema again to the end,
# so applies from several dbplane processes (replicas) sharing a database run one after
# the other, and one that waited finds the schema changed (StaleSchemaHash) instead of
# running a plan made for the old one. The lock is the one the routines' migration runs
# take (engines/routines.py), so a migration run and a schema apply exclude each other too.

def _unchanged(conn: Connection, catalog: CatalogDialect, live: LiveSchema) -> None:
    """Under the lock: the schema is still the one the plan (and the hash) was made
    from, or StaleSchemaHash."""
    if _read(conn, catalog) != live:
        raise StaleSchemaHash("the schema changed while this apply waited for another one "
                              "to finish (its hash is not the current one): diff again, "
                              "then apply; nothing was applied")


def _locked_run(conn: Connection, catalog: CatalogDialect, dialect: str,
                lock: DatabaseLock, changes: list[Change], live: LiveSchema,
                done: list[str], failing: list[str]) -> None:
    """PostgreSQL (in the caller's transaction) and MariaDB: lock, check, run."""
    lock.acquire(conn, LOCK_WAIT)
    try:
        _unchanged(conn, catalog, live)
        _run_all(conn, dialect, changes, live, done, failing)
    finally:
        lock.release(conn)


class _ForeignKeysBroken(Exception):
    pass


async def apply_plan(engine: SqlEngine, changes: list[Change], live: LiveSchema) -> None:
    """Run the changes: all or nothing on SQLite and PostgreSQL; in order, stopping at the
    first failure, on MariaDB. SchemaApplyFailed says which change failed and why, and
    (MariaDB) which ones were applied before it."""
    if not changes:
        return
    dialect = engine.type_name
    catalog = engine.catalog_dialect
    lock = lock_of(engine)
    done: list[str] = []
    failing: list[str] = []
    try:
        if dialect == "sqlite":
            async with engine.sa_engine.connect() as conn:
                await conn.run_sync(_sqlite_apply, catalog, lock, changes, live, done,
                                    failing)
        elif dialect == "postgresql":
            async with engine.sa_engine.begin() as conn:
                await conn.run_sync(_locked_run, catalog, dialect, lock, changes, live,
                                    done, failing)
        else:
            async with engine.sa_engine.connect() as conn:
                await conn.run_sync(_locked_run, catalog, dialect, lock, changes, live,
                                    done, failing)
    except LockBusy as exc:
        raise SchemaApplyFailed(
            f"another schema apply or migration run has held this database's lock ({exc}) "
            f"for more than {LOCK_WAIT:g} s; nothing was applied: try again",
            failed=None, reason="locked", applied=[],
            not_applied=[c.describe() for c in changes]) from exc
    except (sa.exc.DBAPIError, _ForeignKeysBroken, OSError) as exc:
        down = _unreachable(engine, exc)
        if down is not None:
            down.fields.update(applied=list(done) if dialect == "mysql" else [])
            raise down from exc
        if isinstance(exc, OSError):
            raise
        # a SQLite rebuild fails as a whole: `failing` then names every change in it
        failed = "; ".join(failing) or "the foreign key check before the commit"
        ordered = [c.describe() for unit in _units(changes, dialect) for c in unit]
        rest = ordered[len(done) + len(failing):]
        reason = str(exc) if isinstance(exc, _ForeignKeysBroken) else _first_line(exc)
        if dialect == "mysql":
            applied = done
            detail = (f"the database refused {failed!r}: {reason}; MariaDB commits each "
                      f"change: applied before it: {'; '.join(done) or 'nothing'}; not "
                      f"applied: {'; '.join(failing + rest)}")
        else:
            applied = []
            detail = (f"the database refused {failed!r}: {reason}; nothing was applied "
                      "(the apply is one transaction)")
        not_applied = ([] if dialect == "mysql" else done) + failing + rest
        raise SchemaApplyFailed(detail, failed=failed, reason=reason, applied=applied,
                                not_applied=not_applied) from exc


def _sqlite_dry_run(conn: Connection, changes: list[Change], live: LiveSchema) -> list[str]:
    statements: list[str] = []

    def capture(_c: Any, _cur: Any, statement: str, _params: Any, _ctx: Any,
                _many: Any) -> None:
        if not statement.lstrip().upper().startswith(("PRAGMA", "SELECT")):
            statements.append(statement.strip())

    conn.exec_driver_sql("BEGIN")
    event.listen(conn, "before_cursor_execute", capture)
    try:
        _run_all(conn, "sqlite", changes, live, [], [])
    finally:
        event.remove(conn, "before_cursor_execute", capture)
        conn.exec_driver_sql("ROLLBACK")
    return statements


async def render_sql(engine: SqlEngine, changes: list[Change], live: LiveSchema) -> str:
    """The SQL the apply would run, one statement per line block; changes nothing.
    SQLite's rebuilds need the live table, so they run in a transaction rolled back."""
    dialect = engine.type_name
    if not changes:
        return ""
    if dialect == "sqlite":
        async with engine.sa_engine.connect() as conn:
            statements = await conn.run_sync(_sqlite_dry_run, changes, live)
        return "".join(f"{s};\n\n" for s in statements)
    buffer = io.StringIO()
    ops = _operations(None, dialect, buffer=buffer)
    runner = _runner(ops, dialect, live, changes)
    for change in changes:
        runner.run(change)
    return buffer.getvalue()
