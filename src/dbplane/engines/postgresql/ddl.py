"""Changing a PostgreSQL database's schema (see ``dbplane.engines.sql.ddl``).

DDL is transactional: the whole plan runs in one transaction (the base's strategy), all
or nothing. ``timestamp`` is ``timestamp with time zone``; booleans are written
``true``/``false``; an existing column made auto-increment gets what SERIAL would have
made: a sequence owned by the column, past the largest value, as its default.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from dbplane.engines.sql.ddl import DdlDialect, Run
from dbplane.schema.plan import AlterColumn

__all__ = ["PostgresDdl"]


def _quote(name: str) -> str:
    """An identifier quoted for PostgreSQL (it stores defaults in its own spelling)."""
    return '"' + name.replace('"', '""') + '"'


class PostgresDdl(DdlDialect):
    boolean_literals = ("false", "true")

    def timestamp_type(self) -> Any:
        return sa.DateTime(timezone=True)

    def alter_options(self, run: Run, c: AlterColumn) -> dict[str, Any]:
        kw = super().alter_options(run, c)
        if c.after.auto_increment and not c.before.auto_increment:
            kw["server_default"] = self._serial(run, c.table, c.after.name)
        return kw

    def _serial(self, run: Run, table: str, column: str) -> Any:
        """An existing column made auto-increment, as SERIAL makes it: a sequence owned by
        the column, past the largest value, as its default."""
        seq = sa.Sequence(f"{table}_{column}_seq")
        run.ops.execute(sa.schema.CreateSequence(seq, if_not_exists=True))
        run.ops.execute(sa.text(f"ALTER SEQUENCE {_quote(seq.name)} OWNED BY "
                                f"{_quote(table)}.{_quote(column)}"))
        regclass = _quote(seq.name)
        col: sa.ColumnClause[Any] = sa.column(column)
        run.ops.execute(sa.select(sa.func.setval(
            regclass, sa.func.coalesce(sa.func.max(col), 0) + 1, False)).select_from(
                sa.table(table, col)))
        return sa.text(f"nextval('{regclass.replace(chr(39), chr(39) * 2)}'::regclass)")
