"""The Tables API's SQL on SQLite (see ``dbplane.engines.sql.dialect``)."""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import replace
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import sqlite as sa_sqlite
from sqlalchemy.sql.expression import Select

from dbplane.engines.sql.dialect import (
    MAX_DOUBLE,
    MAX_SAFE_INTEGER,
    Expr,
    Rows,
    TablesDialect,
    apply_rows,
    as_bytes,
    json_text,
    sql_text,
    utc,
)
from dbplane.query.model import ColumnInfo

__all__ = ["SqliteTables"]


def _array_text(j: Expr) -> Expr:
    """``'[' || group_concat(j, ',') || ']'``, '[]' for no rows: the rows' JSON texts
    joined in the order they come, without parsing them again."""
    joined = sql_text("'['").op("||")(sa.func.group_concat(j, sql_text("','")))
    joined = joined.op("||")(sql_text("']'"))
    return sa.func.coalesce(joined, sql_text("'[]'"))


def _concat(parts: list[Expr]) -> Expr:
    if len(parts) == 1:
        return parts[0]
    half = len(parts) // 2
    return _concat(parts[:half]).op("||")(_concat(parts[half:]))



_DECIMAL_SCALE = re.compile(r"\(\s*\d+\s*,\s*(\d+)\s*\)")


class SqliteTables(TablesDialect):
    """SQLite 3.35+ (RETURNING), with the JSON1 functions (built in since 3.38)."""

    name = "sqlite"
    # one thread hop (aiosqlite's execute_fetchall) instead of four; a SELECT opens no
    # transaction in the sqlite3 module
    direct = True

    async def fetch_direct(self, driver: Any, sql: str,
                           args: tuple[Any, ...]) -> tuple[Any, ...] | None:
        rows = await driver.execute_fetchall(sql, args)
        return tuple(rows[0]) if rows else None

    def to_driver(self, col: ColumnInfo, value: Any) -> Any:
        if value is None:
            return None
        match col.kind:
            case "boolean":
                return 1 if value else 0
            case "datetime":
                # SQLite's own form (CURRENT_TIMESTAMP, datetime()), so text comparisons
                # agree with server defaults; rendered with a "T"
                return utc(value).isoformat(sep=" ") if isinstance(value, dt.datetime) \
                    else value
            case "date" | "time":
                return value.isoformat() if isinstance(value, dt.date | dt.time) else value
            case "json":
                return json_text(value)
            case "binary":
                return as_bytes(value)
            case "decimal" | "uuid":
                return str(value)
        return value

    def render(self, c: Expr, col: ColumnInfo) -> Expr:
        match col.kind:
            case "integer":
                return sa.case((c.between(sql_text(f"-{MAX_SAFE_INTEGER}"),
                                          sql_text(str(MAX_SAFE_INTEGER))), c),
                               else_=sa.cast(c, sa.Text))
            case "float":
                # SQLite writes reals with 15 significant digits, which does not always
                # read back as the same double: use 17 where 15 would lose it
                short = sa.func.printf(sql_text("'%!.15g'"), c)
                return sa.case(
                    (c.is_(None), sa.null()),
                    (sa.func.abs(c) > sql_text(MAX_DOUBLE),
                     sa.case((c > 0, sql_text("'Infinity'")), else_=sql_text("'-Infinity'"))),
                    (c == sa.cast(short, sa.REAL), c),
                    else_=sa.func.json(sa.func.printf(sql_text("'%!.17g'"), c)))
            case "decimal":
                scale = _DECIMAL_SCALE.search(col.type_sql)
                if scale is not None:
                    fmt = f"'%.{int(scale.group(1))}f'"
                    return sa.case((c.is_(None), sa.null()),
                                   else_=sa.func.printf(sql_text(fmt), c))
                return sa.cast(c, sa.Text)
            case "boolean":
                return sa.func.json(sa.case((c.is_(None), sa.null()),
                                            (c != 0, sql_text("'true'")),
                                            else_=sql_text("'false'")))
            case "datetime":
                return sa.case(
                    (sa.func.substr(c, 11, 1) == sql_text("' '"),
                     sa.func.substr(c, 1, 10).op("||")(sql_text("'T'"))
                     .op("||")(sa.func.substr(c, 12))),
                    else_=c)
            case "json":
                return sa.case((sa.func.json_valid(c) == 1, sa.func.json(c)), else_=c)
            case "binary":
                return sa.case((c.is_(None), sa.null()), else_=sa.func.lower(sa.func.hex(c)))
            case "text" | "date" | "time":
                return c
        return sa.cast(c, sa.Text)

    def eq_operand(self, c: Expr, col: ColumnInfo) -> Expr:
        if col.kind == "text":
            return sa.collate(c, "BINARY")  # over a column declared COLLATE NOCASE
        if col.kind in ("other", "json"):
            return sa.collate(sa.cast(c, sa.Text), "BINARY")
        return c

    range_operand = eq_operand

    def text_operand(self, c: Expr, col: ColumnInfo) -> Expr:
        return c if col.kind == "text" else sa.cast(c, sa.Text)

    def contains(self, text: Expr, value: Expr) -> Expr:
        return sa.func.instr(text, value) > 0

    def starts_with(self, text: Expr, value: Expr) -> Expr:
        return sa.func.substr(text, 1, sa.func.length(value)) == value

    def ends_with(self, text: Expr, value: Expr) -> Expr:
        # substr(x, -0) is the whole string: the empty suffix is its own case
        return sa.and_(text.is_not(None), sa.or_(
            sa.func.length(value) == 0,
            sa.func.substr(text, -sa.func.length(value)) == value))

    def _object(self, pairs: list[tuple[str, Expr]]) -> Expr:
        if len(pairs) <= 60:  # json_object takes at most 127 arguments by default
            args: list[Any] = []
            for key, value in pairs:
                args += [sa.literal(key, sa.String), value]
            return sa.func.json_object(*args)
        # wider rows: '{"k":' || json_quote(v) || ',"l":' || … || '}' (json_quote keeps
        # JSON values, e.g. booleans and embedded relations, as they are), joined as a
        # balanced tree: a chain would pass SQLite's expression depth limit (1000)
        parts: list[Expr] = []
        for i, (key, value) in enumerate(pairs):
            prefix = ("{" if i == 0 else ",") + json.dumps(key) + ":"
            parts += [sa.literal(prefix, sa.String), sa.func.json_quote(value)]
        parts.append(sql_text("'}'"))
        return _concat(parts)

    def insert_for_upsert(self, t: Any) -> Any:
        return sa_sqlite.insert(t)

    def written_operand(self, c: Expr) -> Expr:
        # SQLite 3.40 answers `c IS NULL` as false in a RETURNING clause for a NULL
        # written with an explicit rowid key; through a function call it is right
        return sa.func.likely(c)

    def json_object(self, pairs: list[tuple[str, Expr]]) -> Expr:
        return self._object(pairs)

    def written_rows(self, statement: Any, pairs: list[tuple[str, Expr]]) -> Any:
        return statement.returning(self._object(pairs))

    def list_select(self, rows: Rows, count: Expr | None) -> Select[Any]:
        # SQLite does not flatten a subquery with ORDER BY into an aggregate query, so
        # group_concat reads the rows in the subquery's order
        order = [self.order_term(t) for t in rows.order]
        inner = apply_rows(sa.select(self._object(rows.pairs).label("j")), rows, order)
        page = inner.subquery("s")
        columns: list[Expr] = [_array_text(page.c.j)]
        if count is not None:
            columns.append(count)
        return sa.select(*columns).select_from(page)

    def record_select(self, rows: Rows) -> Select[Any]:
        return apply_rows(sa.select(self._object(rows.pairs)), rows, [])

    def one_expr(self, rows: Rows, alias: str) -> Expr:
        rows = replace(rows, limit=1)
        inner = apply_rows(sa.select(self._object(rows.pairs)), rows, [])
        return sa.func.json(inner.scalar_subquery())

    def many_expr(self, rows: Rows, alias: str) -> Expr:
        order = [self.order_term(t) for t in rows.order]
        inner = apply_rows(sa.select(self._object(rows.pairs).label("j")), rows, order)
        sub = inner.subquery(alias)
        return sa.func.json(sa.select(_array_text(sub.c.j)).select_from(sub).scalar_subquery())
