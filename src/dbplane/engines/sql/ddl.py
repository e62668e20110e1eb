"""What differs between the SQL types in changing a database's schema: the base.

One small class per type (``<type>/ddl.py``), reached as the engine class's
``ddl_dialect``, as Alembic's ``ddl/impl.py`` has one ``DefaultImpl`` per database. It
answers:

- how a plan's change runs through Alembic's ``Operations`` (one method per kind of
  change, ``_DropRelation`` … ``_CreateRelation``, given the ``Run`` of the apply), with
  the column types and defaults of the type (``sa_type``, ``server_default``);
- the units the changes run in (``units``: one change each, or SQLite's rebuilds) and how
  one unit runs (``run_unit``);
- the apply's strategy: its connection (``connect``: one transaction, or none where DDL
  commits by itself), the lock and the changes on it (``run_locked``), and what a failure
  left applied (``applied``, ``refused``);
- the dry run (``render``: Alembic's offline rendering, or SQLite's rolled-back run);
- how a migration's SQL text is split and handed to the driver (``statements``,
  ``as_written``).

The apply itself (the lock, the check that the schema is unchanged, the errors) is
``sql.schema``'s; this module imports no Alembic (``Operations`` come from the caller).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection

from dbplane.routines.sqlsplit import split_statements
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

if TYPE_CHECKING:
    from contextlib import AbstractAsyncContextManager

    from dbplane.engines.sql.engine import SqlEngine
    from dbplane.engines.sql.lock import DatabaseLock
    from dbplane.engines.sql.reflect import LiveSchema

__all__ = ["DdlDialect", "PlanRefused", "Run", "fk_action"]


class PlanRefused(Exception):
    """The database refused the plan as a whole (SQLite: the foreign key check before
    the commit); the message says why."""


@dataclass
class Run:
    """One run of a plan's changes: the Operations they go through, the schema they were
    planned against, and what the plan does as a whole."""

    ops: Any
    """Alembic's ``Operations``, or the type's wrapper of it (``DdlDialect.operations``)."""
    live: LiveSchema | None
    targets: dict[str, set[IndexSpec]] = field(default_factory=dict)
    """Table → the indexes the plan creates."""
    created: set[str] = field(default_factory=set)
    dropped: set[str] = field(default_factory=set)


_EXPRESSIONS = {"CURRENT_TIMESTAMP", "CURRENT_DATE", "CURRENT_TIME", "NOW()",
                "CURRENT_TIMESTAMP()", "GEN_RANDOM_UUID()", "UUID()"}


def fk_action(value: str) -> str | None:
    return None if value == "NO ACTION" else value


def _index_name(table: str, idx: IndexSpec) -> str:
    return constraint_name(table, idx.columns, "unique" if idx.unique else "index")


class DdlDialect:
    """How one SQL type's schema changes (the base: what every type shares, and
    PostgreSQL's strategy: the whole plan in one transaction)."""

    boolean_literals: ClassVar[tuple[str, str]] = ("0", "1")
    """How a boolean default is written (false, true)."""

    # -- types and columns ---------------------------------------------------------------

    def timestamp_type(self) -> Any:
        """The column type of the snapshot's ``timestamp``."""
        return sa.TIMESTAMP()

    def sa_type(self, t: ColumnType) -> Any:
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
            return self.timestamp_type()
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

    def server_default(self, col: ColumnSpec) -> Any:
        value = col.default
        if value is None or col.auto_increment:
            return None
        if isinstance(value, bool):
            return sa.text(self.boolean_literals[value])
        if isinstance(value, int | float):
            return sa.text(repr(value))
        text = str(value)
        if text.upper() in _EXPRESSIONS:
            return sa.text(text)
        return text  # a literal: SQLAlchemy quotes it

    def column_type(self, col: ColumnSpec, auto: bool) -> Any:
        """The type of a column being made (``auto``: its table's auto-increment key)."""
        return self.sa_type(col.type)

    def column(self, col: ColumnSpec, pk: tuple[str, ...]) -> sa.Column[Any]:
        auto = col.auto_increment and pk == (col.name,)
        return sa.Column(col.name, self.column_type(col, auto), nullable=col.nullable,
                         server_default=self.server_default(col),
                         primary_key=col.name in pk, autoincrement=auto if pk else False)

    # -- running changes -----------------------------------------------------------------

    def operations(self, ops: Any, live: LiveSchema | None) -> Any:
        """What the changes go through (the base: Alembic's Operations as they are)."""
        return ops

    def start(self, ops: Any, live: LiveSchema | None, changes: list[Change]) -> Run:
        targets: dict[str, set[IndexSpec]] = {}
        for c in changes:
            if isinstance(c, CreateIndex):
                targets.setdefault(c.table, set()).add(c.index)
        return Run(self.operations(ops, live), live, targets,
                   created={c.table for c in changes if isinstance(c, CreateTable)},
                   dropped={c.table for c in changes if isinstance(c, DropTable)})

    def units(self, changes: list[Change]) -> list[list[Change]]:
        """The changes in the order they run, in units that succeed or fail together (the
        base: one change each, in the plan's order)."""
        return [[c] for c in changes]

    def run_unit(self, run: Run, unit: list[Change]) -> None:
        for change in unit:
            self.run(run, change)

    def run(self, run: Run, change: Change) -> None:
        getattr(self, f"_{type(change).__name__}")(run, change)

    def index_names(self, run: Run, table: str, idx: IndexSpec) -> tuple[str, str]:
        if run.live is not None and (table, idx) in run.live.index_names:
            return run.live.index_names[(table, idx)]
        return (_index_name(table, idx), "index")

    def _DropRelation(self, run: Run, c: DropRelation) -> None:
        run.ops.drop_constraint(c.relation.name, c.table, type_="foreignkey")

    def _DropCheck(self, run: Run, c: DropCheck) -> None:
        run.ops.drop_constraint(c.name, c.table, type_="check")

    def _DropIndex(self, run: Run, c: DropIndex) -> None:
        name, kind = self.index_names(run, c.table, c.index)
        if kind == "constraint":
            run.ops.drop_constraint(name, c.table, type_="unique")
        else:
            run.ops.drop_index(name, table_name=c.table)

    def _DropTable(self, run: Run, c: DropTable) -> None:
        run.ops.drop_table(c.table)

    def _CreateTable(self, run: Run, c: CreateTable) -> None:
        spec = c.spec
        run.ops.create_table(c.table, *[self.column(col, spec.primary_key)
                                        for col in spec.columns.values()])

    def _AddColumn(self, run: Run, c: AddColumn) -> None:
        run.ops.add_column(c.table, self.column(c.column, ()))

    def alter_options(self, run: Run, c: AlterColumn) -> dict[str, Any]:
        """The keywords of ``alter_column`` for a changed column."""
        before, after = c.before, c.after
        kw: dict[str, Any] = {
            "existing_type": self.sa_type(before.type),
            "existing_nullable": before.nullable,
            "existing_server_default": self.server_default(before),
        }
        if before.type != after.type:
            kw["type_"] = self.sa_type(after.type)
        if before.nullable != after.nullable:
            kw["nullable"] = after.nullable
        if before.default != after.default:
            kw["server_default"] = self.server_default(after)
        return kw

    def _AlterColumn(self, run: Run, c: AlterColumn) -> None:
        run.ops.alter_column(c.table, c.after.name, **self.alter_options(run, c))

    def _SetPrimaryKey(self, run: Run, c: SetPrimaryKey) -> None:
        if c.before:
            name = (run.live.pk_names.get(c.table) if run.live else None) or \
                f"{c.table}_pkey"
            run.ops.drop_constraint(name, c.table, type_="primary")
        if c.after:
            run.ops.create_primary_key(f"{c.table}_pkey", c.table, list(c.after))

    def _DropColumn(self, run: Run, c: DropColumn) -> None:
        run.ops.drop_column(c.table, c.column)

    def _CreateIndex(self, run: Run, c: CreateIndex) -> None:
        run.ops.create_index(_index_name(c.table, c.index), c.table, list(c.index.columns),
                             unique=c.index.unique)

    def _CreateCheck(self, run: Run, c: CreateCheck) -> None:
        run.ops.create_check_constraint(c.name, c.table, sa.text(c.expression))

    def _CreateRelation(self, run: Run, c: CreateRelation) -> None:
        r = c.relation
        run.ops.create_foreign_key(r.name, c.table, r.ref_table, list(r.columns),
                                   list(r.ref_columns), onupdate=fk_action(r.on_update),
                                   ondelete=fk_action(r.on_delete))

    # -- the apply's strategy ------------------------------------------------------------

    def connect(self, engine: SqlEngine) -> AbstractAsyncContextManager[AsyncConnection]:
        """The connection an apply runs on (the base: one transaction, committed at the
        end, rolled back on a failure)."""
        return engine.sa_engine.begin()

    def run_locked(self, conn: Connection, lock: DatabaseLock, wait: float,
                   check: Callable[[], None], run: Callable[[], None]) -> None:
        """Take the database's lock (waiting at most ``wait`` seconds), ``check`` that the
        schema is the one the plan was made from, ``run`` the changes, let the lock go."""
        lock.acquire(conn, wait)
        try:
            check()
            run()
        finally:
            lock.release(conn)

    def applied(self, done: list[str]) -> list[str]:
        """What stays applied when a change fails after the changes ``done`` (the base:
        nothing, the apply is one transaction)."""
        return []

    def refused(self, failed: str, reason: str, applied: list[str],
                not_applied: list[str]) -> str:
        """The message of a failed apply."""
        return (f"the database refused {failed!r}: {reason}; nothing was applied "
                "(the apply is one transaction)")

    async def render(self, engine: SqlEngine, on_connection: Callable[[Connection], None],
                     offline: Callable[[], str]) -> str:
        """The SQL the apply would run, changing nothing: ``offline`` renders it through
        Alembic's offline mode (the base), ``on_connection`` runs it on a connection."""
        return offline()

    # -- migrations' SQL -----------------------------------------------------------------

    def statements(self, sql: str) -> list[str]:
        """The statements of a SQL text (a migration, or an offline rendering)."""
        return split_statements(sql)

    def as_written(self, statement: str) -> str:
        """A statement as ``exec_driver_sql`` must get it to run it as written."""
        return statement
