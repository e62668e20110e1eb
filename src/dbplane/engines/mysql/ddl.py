"""Changing a MariaDB (MySQL) database's schema (see ``dbplane.engines.sql.ddl``).

Every DDL statement commits by itself: the plan runs in order outside a transaction and
stops at the first change the database refuses; the failure names the changes applied
before it and those not applied. The lock (``GET_LOCK``) is held to the last statement.

A unique constraint is an index (dropped with DROP INDEX); a foreign key has an index
of its own, named as the key, which goes with it unless the plan keeps an index on its
columns; ``MODIFY ... AUTO_INCREMENT`` turns auto-increment on and off.

Migrations' SQL: the MySQL drivers apply ``%`` formatting even to a statement without
parameters (a literal ``%`` is doubled), and the splitter reads backslash escapes and
``#`` comments.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncConnection

from dbplane.engines.sql.ddl import DdlDialect, Run
from dbplane.routines.sqlsplit import split_statements
from dbplane.schema.plan import AlterColumn, DropIndex, DropRelation, IndexSpec

if TYPE_CHECKING:
    from dbplane.engines.sql.engine import SqlEngine

__all__ = ["MariadbDdl"]


class MariadbDdl(DdlDialect):
    def _DropRelation(self, run: Run, c: DropRelation) -> None:
        super()._DropRelation(run, c)
        name = c.relation.name
        if run.live is not None and name in run.live.fk_index_names.get(c.table, set()) \
                and IndexSpec(c.relation.columns, False) not in run.targets.get(c.table,
                                                                                set()):
            run.ops.drop_index(name, table_name=c.table)

    def _DropIndex(self, run: Run, c: DropIndex) -> None:
        name, _kind = self.index_names(run, c.table, c.index)
        run.ops.drop_index(name, table_name=c.table)

    def alter_options(self, run: Run, c: AlterColumn) -> dict[str, Any]:
        kw = super().alter_options(run, c)
        kw["existing_autoincrement"] = c.before.auto_increment
        if c.before.auto_increment != c.after.auto_increment:
            kw["autoincrement"] = c.after.auto_increment  # MODIFY ... [AUTO_INCREMENT]
        return kw

    def connect(self, engine: SqlEngine) -> AbstractAsyncContextManager[AsyncConnection]:
        return engine.sa_engine.connect()  # no transaction: DDL commits by itself

    def applied(self, done: list[str]) -> list[str]:
        return list(done)

    def refused(self, failed: str, reason: str, applied: list[str],
                not_applied: list[str]) -> str:
        return (f"the database refused {failed!r}: {reason}; MariaDB commits each "
                f"change: applied before it: {'; '.join(applied) or 'nothing'}; not "
                f"applied: {'; '.join(not_applied)}")

    def statements(self, sql: str) -> list[str]:
        return split_statements(sql, "mysql")

    def as_written(self, statement: str) -> str:
        return statement.replace("%", "%%")
