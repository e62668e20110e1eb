"""The Tables API's SQL on MariaDB (see ``dbplane.engines.sql.dialect``)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import mysql as sa_mysql
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.expression import Select

from dbplane.engines.sql.dialect import (
    MAX_SAFE_INTEGER,
    TEXTLIKE,
    Expr,
    Rows,
    Sort,
    TablesDialect,
    apply_rows,
    as_bytes,
    has_time_zone,
    json_text,
    sql_text,
    utc,
)
from dbplane.query.model import ColumnInfo

__all__ = ["MariadbTables"]


class _JsonArrayAgg(ColumnElement[Any]):
    """MariaDB's ``JSON_ARRAYAGG(expr ORDER BY … LIMIT n)`` (SQLAlchemy has no spelling
    for an ORDER BY inside an aggregate except PostgreSQL's ``aggregate_order_by``)."""

    inherit_cache = False
    type = sa.types.NullType()

    def __init__(self, expr: Expr, order: Sequence[Sort],
                 limit: int | None = None) -> None:
        self.expr = expr
        self.order = tuple(order)
        self.limit = limit


@compiles(_JsonArrayAgg, "mysql")
def _compile_json_arrayagg(element: _JsonArrayAgg, compiler: SQLCompiler, **kw: Any) -> str:
    text = compiler.process(element.expr, **kw)
    if element.order:
        text += " ORDER BY " + ", ".join(
            compiler.process(t.operand, **kw) + (" DESC" if t.descending else "")
            for t in element.order)
    if element.limit is not None:
        text += f" LIMIT {int(element.limit)}"
    return f"JSON_ARRAYAGG({text})"



_BINARY_COLLATION = "utf8mb4_nopad_bin"
"""Code point order, and no PAD SPACE: 'a ' and 'a' differ, as in Python and PostgreSQL."""


class MariadbTables(TablesDialect):
    """MariaDB 10.5+ (``JSON_ARRAYAGG`` with ORDER BY and LIMIT, INSERT … RETURNING).

    The engine sets each session's ``time_zone`` to UTC and ``group_concat_max_len`` to
    its maximum (``MysqlEngine``): ``JSON_ARRAYAGG`` is built on GROUP_CONCAT and would
    otherwise cut a page at 1 MiB."""

    name = "mysql"
    # not direct: with autocommit off a SELECT opens a transaction, which SQLAlchemy's
    # Connection must know of to end it

    def to_driver(self, col: ColumnInfo, value: Any) -> Any:
        if value is None:
            return None
        match col.kind:
            case "boolean":
                return 1 if value else 0
            case "datetime":
                if isinstance(value, dt.datetime):
                    return utc(value).replace(tzinfo=None)
                return value
            case "time":
                if isinstance(value, dt.time):
                    return value.replace(tzinfo=None)
                return value
            case "json":
                return json_text(value)
            case "binary":
                return as_bytes(value)
            case "uuid":
                return str(value)
        return value

    @staticmethod
    def _binary(c: Expr) -> Expr:
        return sa.collate(sa.cast(c, sa_mysql.CHAR(charset="utf8mb4")), _BINARY_COLLATION)

    @staticmethod
    def _utf8mb4(col: ColumnInfo) -> bool:
        # introspection adds the character set to type_sql when it is not utf8mb4
        return "character set" not in col.type_sql.lower()

    def render(self, c: Expr, col: ColumnInfo) -> Expr:
        t = col.type_sql.lower()
        match col.kind:
            case "integer":
                if not t.startswith("bigint"):
                    return c
                return sa.case(
                    (c.between(sql_text(f"-{MAX_SAFE_INTEGER}"), sql_text(str(MAX_SAFE_INTEGER))),
                     sa.func.json_extract(c, sql_text("'$'"))),
                    else_=sa.func.json_extract(sa.func.json_quote(sa.cast(c, sa.CHAR)),
                                               sql_text("'$'")))
            case "float" | "text" | "date":
                return c
            case "boolean":
                return c != 0  # a comparison is a JSON boolean in JSON_OBJECT; NULL stays
            case "datetime":
                text = sa.func.concat(
                    sa.func.date_format(c, sql_text("'%Y-%m-%dT%H:%i:%s'")),
                    sa.func.if_(sa.func.microsecond(c) == 0, sql_text("''"),
                                  sa.func.date_format(c, sql_text("'.%f'"))))
                if has_time_zone(col) or t.startswith("timestamp"):
                    return sa.func.concat(text, sql_text("'+00:00'"))
                return text
            case "time":
                return sa.func.concat(
                    sa.func.time_format(c, sql_text("'%H:%i:%s'")),
                    sa.func.if_(sa.func.microsecond(c) == 0, sql_text("''"),
                                  sa.func.time_format(c, sql_text("'.%f'"))))
            case "json":
                return sa.func.json_extract(c, sql_text("'$'"))
            case "binary":
                return sa.func.lower(sa.func.hex(c))
        return sa.cast(c, sa.CHAR)

    def eq_operand(self, c: Expr, col: ColumnInfo) -> Expr:
        # a UUID column compares its 128-bit value (and can use its index)
        return self._binary(c) if col.kind in ("text", "other", "json") else c

    def range_operand(self, c: Expr, col: ColumnInfo) -> Expr:
        # MariaDB's UUID type sorts its groups in a storage order: sort the text
        return self._binary(c) if col.kind in TEXTLIKE else c

    def text_operand(self, c: Expr, col: ColumnInfo) -> Expr:
        return self._binary(c)

    def eq(self, c: Expr, col: ColumnInfo, value: Expr) -> Expr:
        exact = super().eq(c, col, value)
        if col.kind == "text" and self._utf8mb4(col):
            # the column's own (case-insensitive) comparison first: it can use an index
            return sa.and_(c == value, exact)
        return exact

    def in_(self, c: Expr, col: ColumnInfo, values: Sequence[Expr]) -> Expr:
        exact = super().in_(c, col, values)
        if col.kind == "text" and self._utf8mb4(col):
            return sa.and_(c.in_(values), exact)
        return exact

    def contains(self, text: Expr, value: Expr) -> Expr:
        return sa.func.locate(value, text) > 0

    def starts_with(self, text: Expr, value: Expr) -> Expr:
        return sa.func.left(text, sa.func.char_length(value)) == value

    def ends_with(self, text: Expr, value: Expr) -> Expr:
        return sa.func.right(text, sa.func.char_length(value)) == value

    @staticmethod
    def _object(pairs: list[tuple[str, Expr]]) -> Expr:
        if not pairs:
            # JSON_OBJECT() in a derived table comes out as an empty string (10.11)
            return sa.func.json_extract(sql_text("'{}'"), sql_text("'$'"))
        args: list[Any] = []
        for key, value in pairs:
            args += [sa.literal(key, sa.String), value]
        return sa.func.json_object(*args)

    # INSERT and DELETE ... RETURNING (10.5), no UPDATE ... RETURNING
    update_returning = False

    def previous_matched(self) -> Expr:
        # ROW_COUNT() is the previous statement's count: the rows an UPDATE matched, as
        # the engine's connections set CLIENT_FOUND_ROWS (changed or not)
        return sa.func.row_count() > 0
    max_parameters = 60000

    def upsert(self, t: Any, values: list[dict[str, Any]], names: tuple[str, ...],
               conflict: tuple[str, ...], merge: bool) -> Any:
        # ON DUPLICATE KEY UPDATE names no key: it fires on a conflict with any unique
        # key of the table. "Ignore" sets the key to itself (INSERT IGNORE would turn
        # every other error into a warning too); RETURNING then answers the stored row
        insert = sa_mysql.insert(t).values(values)
        changed = [n for n in names if n not in conflict]
        if not merge or not changed:
            return insert.on_duplicate_key_update({conflict[0]: t.c[conflict[0]]})
        return insert.on_duplicate_key_update({n: insert.inserted[n] for n in changed})

    async def estimate_rows(self, engine: Any, sql: str, args: tuple[Any, ...]) -> int | None:
        async with engine.sa_engine.connect() as conn:
            row = (await conn.exec_driver_sql("EXPLAIN FORMAT=JSON " + sql, args)).first()
        if row is None:
            return None
        block = json.loads(row[0]).get("query_block", {})
        table = block.get("table") or {}
        rows = table.get("rows")
        if rows is None:
            return None
        return int(float(rows) * float(table.get("filtered", 100)) / 100)

    def json_object(self, pairs: list[tuple[str, Expr]]) -> Expr:
        return self._object(pairs)

    def written_rows(self, statement: Any, pairs: list[tuple[str, Expr]]) -> Any:
        return statement.returning(self._object(pairs))

    def list_select(self, rows: Rows, count: Expr | None) -> Select[Any]:
        # MariaDB may read a derived table in any order: the sort operands go out with
        # each row (o0, o1…) and order the aggregate itself
        labels = [t.operand.label(f"o{i}") for i, t in enumerate(rows.order)]
        order = [self.order_term(t) for t in rows.order]
        inner = apply_rows(sa.select(self._object(rows.pairs).label("j"), *labels), rows, order)
        page = inner.subquery("s")
        agg = _JsonArrayAgg(page.c.j, [Sort(page.c[f"o{i}"], t.descending)
                                       for i, t in enumerate(rows.order)])
        # JSON_ARRAYAGG is NULL for no rows; and it silently cuts a result longer than
        # max_allowed_packet (16 MiB by default, a server-wide setting): such a page is
        # NULL here, which the caller reports, rather than JSON cut in the middle
        size = sa.func.sum(sa.func.length(page.c.j)) + sa.func.count() + 1
        limit = sa.func.least(sql_text("@@group_concat_max_len"), sql_text("@@max_allowed_packet"))
        body = sa.case((sa.func.count() == 0, sql_text("'[]'")),
                       (size >= limit, sa.null()),
                       else_=agg)
        columns: list[Expr] = [body]
        if count is not None:
            columns.append(count)
        return sa.select(*columns).select_from(page)

    def record_select(self, rows: Rows) -> Select[Any]:
        return apply_rows(sa.select(self._object(rows.pairs)), rows, [])

    def one_expr(self, rows: Rows, alias: str) -> Expr:
        rows = replace(rows, limit=1)
        return apply_rows(sa.select(self._object(rows.pairs)), rows, []).scalar_subquery()

    def many_expr(self, rows: Rows, alias: str) -> Expr:
        # a derived table cannot see the outer row in MariaDB: ORDER BY and LIMIT go
        # inside the aggregate instead
        limit = rows.limit if isinstance(rows.limit, int) else None
        agg = _JsonArrayAgg(self._object(rows.pairs), rows.order, limit)
        inner = apply_rows(sa.select(agg), replace(rows, limit=None), [])
        return sa.func.coalesce(inner.scalar_subquery(), sa.func.json_array())
