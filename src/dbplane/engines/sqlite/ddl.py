"""Changing a SQLite database's schema (see ``dbplane.engines.sql.ddl``).

The changes to an existing table share one Alembic batch: the table is rebuilt once, its
rows and indexes copied; column types SQLAlchemy misreads (``UUID``) are declared again as
they were, and its triggers and expression indexes, which the batch does not copy, are
made again from their text in ``sqlite_master``. A new table is made with its foreign
keys and checks inline. The whole plan is one transaction (``BEGIN IMMEDIATE``: the file's
write lock) with foreign keys off, checked (``PRAGMA foreign_key_check``) before the
commit: all or nothing. The dry run runs the plan in a transaction rolled back (a batch
needs the live table) and answers the statements it ran.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from contextlib import AbstractAsyncContextManager, contextmanager
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection

from dbplane.engines.sql.ddl import DdlDialect, PlanRefused, Run, fk_action
from dbplane.engines.sql.reflect import EXPRESSION_INDEX, LiveSchema
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
    DropRelation,
    DropTable,
    SetPrimaryKey,
)

if TYPE_CHECKING:
    from alembic.operations import Operations

    from dbplane.engines.sql.engine import SqlEngine
    from dbplane.engines.sql.lock import DatabaseLock

__all__ = ["SqliteDdl"]

_NAMING = {
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
}

_BATCHED = (DropRelation, DropCheck, AddColumn, AlterColumn, SetPrimaryKey, DropColumn,
            CreateCheck, CreateRelation)


class _Declared(sa.types.UserDefinedType[Any]):
    """A column type SQLAlchemy does not know, declared again as SQLite has it (read from
    the database's own catalog, never from a request)."""

    cache_ok = True

    def __init__(self, declared: str) -> None:
        self.declared = declared

    def get_col_spec(self, **_kw: Any) -> str:
        return self.declared


class _BatchOps:
    """Operations for SQLite: the changes to an existing table go through one batch
    (Alembic copies the table, its rows and its indexes, once per table)."""

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
                                                 naming_convention=_NAMING) as batch:
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


def _fk(rel: Any) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(list(rel.columns),
                                   [f"{rel.ref_table}.{c}" for c in rel.ref_columns],
                                   name=rel.name, onupdate=fk_action(rel.on_update),
                                   ondelete=fk_action(rel.on_delete))


def _dry_run(conn: Connection, run: Callable[[Connection], None]) -> list[str]:
    statements: list[str] = []

    def capture(_c: Any, _cur: Any, statement: str, _params: Any, _ctx: Any,
                _many: Any) -> None:
        if not statement.lstrip().upper().startswith(("PRAGMA", "SELECT")):
            statements.append(statement.strip())

    conn.exec_driver_sql("BEGIN")
    event.listen(conn, "before_cursor_execute", capture)
    try:
        run(conn)
    finally:
        event.remove(conn, "before_cursor_execute", capture)
        conn.exec_driver_sql("ROLLBACK")
    return statements


class SqliteDdl(DdlDialect):
    def column_type(self, col: ColumnSpec, auto: bool) -> Any:
        if auto:
            return sa.Integer()  # only INTEGER PRIMARY KEY is the rowid
        return super().column_type(col, auto)

    def operations(self, ops: Any, live: LiveSchema | None) -> Any:
        return _BatchOps(ops, live.declared if live is not None else {})

    def units(self, changes: list[Change]) -> list[list[Change]]:
        """Every change to one existing table in one batch, after the index drops and the
        new tables, before the tables dropped and the new indexes."""
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
        # a rebuild reads the tables its foreign keys name: the new ones are made before
        # it, and the ones that go are dropped after it (it drops the foreign keys to them)
        return [*first, *new_tables, *batches.values(), *gone_tables, *last]

    def run_unit(self, run: Run, unit: list[Change]) -> None:
        if len(unit) > 1:
            with run.ops.table(unit[0].table):
                for change in unit:
                    self.run(run, change)
        else:
            self.run(run, unit[0])

    def _DropRelation(self, run: Run, c: DropRelation) -> None:
        if c.table in run.dropped:
            return  # the table goes, and its foreign keys with it
        name = c.relation.name
        live = next((r for r in (run.live.relations if run.live else [])
                     if r["collection"] == c.table
                     and r["field"] == c.relation.columns[0]), None)
        if live is not None and live["schema"]["constraint_name"] is None:
            name = f"fk_{c.table}_{c.relation.columns[0]}_{c.relation.ref_table}"
        run.ops.drop_constraint(name, c.table, type_="foreignkey")

    def _CreateTable(self, run: Run, c: CreateTable) -> None:
        spec = c.spec
        items: list[Any] = [self.column(col, spec.primary_key)
                            for col in spec.columns.values()]
        items.extend(_fk(rel) for rel in spec.relations.values())
        items.extend(sa.CheckConstraint(sa.text(expr), name=name)
                     for name, expr in spec.checks.items())
        # an auto-increment key is INTEGER PRIMARY KEY AUTOINCREMENT, as Directus makes it:
        # an id is never given again after its row is deleted
        auto = any(col.auto_increment for col in spec.columns.values())
        run.ops.create_table(c.table, *items, sqlite_autoincrement=auto)

    def _CreateCheck(self, run: Run, c: CreateCheck) -> None:
        if c.table in run.created:
            return  # made with the table
        super()._CreateCheck(run, c)

    def _CreateRelation(self, run: Run, c: CreateRelation) -> None:
        if c.table in run.created:
            return  # made with the table
        super()._CreateRelation(run, c)

    def connect(self, engine: SqlEngine) -> AbstractAsyncContextManager[AsyncConnection]:
        return engine.sa_engine.connect()  # the transaction is run_locked's

    def run_locked(self, conn: Connection, lock: DatabaseLock, wait: float,
                   check: Callable[[], None], run: Callable[[], None]) -> None:
        # foreign keys off for the rebuilds (a table is dropped and renamed), checked once
        # before the commit; PRAGMA foreign_keys cannot change inside a transaction
        conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
        try:
            lock.acquire(conn, wait)  # BEGIN IMMEDIATE: the file's write lock, to the commit
            try:
                check()
                run()
                broken = conn.exec_driver_sql("PRAGMA foreign_key_check").all()
                if broken:
                    raise PlanRefused(f"rows of {broken[0][0]!r} refer to rows of "
                                      f"{broken[0][2]!r} that do not exist")
            except BaseException:
                conn.exec_driver_sql("ROLLBACK")
                raise
            conn.exec_driver_sql("COMMIT")
        finally:
            conn.exec_driver_sql("PRAGMA foreign_keys=ON")

    async def render(self, engine: SqlEngine, on_connection: Callable[[Connection], None],
                     offline: Callable[[], str]) -> str:
        async with engine.sa_engine.connect() as conn:
            statements = await conn.run_sync(_dry_run, on_connection)
        return "".join(f"{s};\n\n" for s in statements)
