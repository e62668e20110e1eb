"""The Tables API's SQL on PostgreSQL (see ``dbplane.engines.sql.dialect``)."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from dataclasses import replace
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as sa_postgresql
from sqlalchemy.sql.expression import Select
from sqlalchemy.types import TypeEngine

from dbplane.engines.sql.dialect import (
    MAX_SAFE_INTEGER,
    Expr,
    Rows,
    Sort,
    TablesDialect,
    apply_rows,
    as_bytes,
    as_text,
    has_time_zone,
    json_text,
    sql_text,
    utc,
)
from dbplane.query.model import ColumnInfo

__all__ = ["PostgresTables"]


_PG_TEXT_TYPES = ("text", "character varying", "character", "varchar", "char", "bpchar",
                  "name", "citext")


_NARROW_INTEGERS = ("smallint", "integer", "int2", "int4", "int", "smallserial", "serial")


def _pg_is_text_type(col: ColumnInfo) -> bool:
    t = col.type_sql.lower()
    return t.startswith(_PG_TEXT_TYPES) and "[]" not in t


class PostgresTables(TablesDialect):
    """PostgreSQL: rows become JSON with ``row_to_json``/``json_agg`` over a subquery whose
    column labels are the keys (as PostgREST does), so there is no 100-argument limit of
    ``json_build_object`` and the keys keep the columns' order."""

    name = "postgresql"
    # one round trip: SQLAlchemy's asyncpg adapter would wrap the statement in BEGIN …
    # ROLLBACK (a statement is atomic, and sees one snapshot, on its own)
    direct = True
    # asyncpg prepares each statement once per connection, and PostgreSQL keeps a generic
    # plan for it only when that plan costs no more than the custom ones; with LIMIT $n
    # the generic plan assumes a tenth of the table, so every execution was planned
    # again (~50 us of the server's CPU, a fifth of a 50-row page): LIMIT is written as a
    # number (OFFSET stays bound: its values are too many to give each a statement)
    literal_limits = True

    async def fetch_direct(self, driver: Any, sql: str,
                           args: tuple[Any, ...]) -> tuple[Any, ...] | None:
        row = await driver.fetchrow(sql, *args)
        return None if row is None else tuple(row)

    def bind_type(self, col: ColumnInfo | None, pattern: bool = False) -> TypeEngine[Any]:
        if col is not None and col.kind == "datetime" and not pattern:
            return sa.DateTime(timezone=has_time_zone(col))
        return super().bind_type(col, pattern)

    def to_driver(self, col: ColumnInfo, value: Any) -> Any:
        if value is None:
            return None
        match col.kind:
            case "boolean":
                return bool(value)
            case "datetime":
                if isinstance(value, str):
                    value = dt.datetime.fromisoformat(value)
                if has_time_zone(col):
                    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)
                return utc(value).replace(tzinfo=None)
            case "date":
                return dt.date.fromisoformat(value) if isinstance(value, str) else value
            case "time":
                return dt.time.fromisoformat(value) if isinstance(value, str) else value
            case "decimal":
                return value if isinstance(value, Decimal) else Decimal(str(value))
            case "json":
                return json_text(value)
            case "binary":
                return as_bytes(value)
            case "uuid":
                return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
            case "text" | "other":
                return as_text(value)
        return value

    def filter_value(self, col: ColumnInfo | None, value: Any, pattern: bool) -> Any:
        if col is not None and col.kind == "integer" and not pattern:
            return int(value)
        if col is not None and col.kind == "float" and not pattern:
            return float(value)
        return super().filter_value(col, value, pattern)

    @staticmethod
    def _timestamp_text(ts: Expr, fmt: str) -> Expr:
        """``fmt`` then ``.ffffff`` when the fraction is not zero (as Python's isoformat)."""
        micros = sa.func.to_char(ts, sql_text("'US'"))
        return sa.func.to_char(ts, sql_text(fmt)).op("||")(sa.case(
            (micros == sql_text("'000000'"), sql_text("''")),
            else_=sa.func.to_char(ts, sql_text("'.US'"))))

    @staticmethod
    def _range_guarded(col: ColumnInfo) -> bool:
        """An integer column wider than 32 bits: rendered as a string beyond 2**53."""
        return col.kind == "integer" and col.type_sql.lower() not in _NARROW_INTEGERS

    def render(self, c: Expr, col: ColumnInfo) -> Expr:
        t = col.type_sql.lower()
        match col.kind:
            case "integer":
                if not self._range_guarded(col):
                    return c
                return sa.case((c.between(sql_text(f"-{MAX_SAFE_INTEGER}"),
                                          sql_text(str(MAX_SAFE_INTEGER))), sa.func.to_json(c)),
                               else_=sa.func.to_json(sa.cast(c, sa.Text)))
            case "float" | "boolean" | "date" | "json" | "uuid":
                return c
            case "text":
                return c if _pg_is_text_type(col) else sa.cast(c, sa.Text)
            case "decimal":
                return sa.cast(c, sa.Text)
            case "datetime":
                if has_time_zone(col):
                    utc = sa.func.timezone(sql_text("'UTC'"), c)
                    return self._timestamp_text(utc, "'YYYY-MM-DD\"T\"HH24:MI:SS'").op("||")(
                        sql_text("'+00:00'"))
                return self._timestamp_text(c, "'YYYY-MM-DD\"T\"HH24:MI:SS'")
            case "time":
                if "with time zone" in t:
                    return sa.cast(c, sa.Text)
                return self._timestamp_text(sa.cast(c, sa.Interval), "'HH24:MI:SS'")
            case "binary":
                return sa.func.encode(c, sql_text("'hex'"))
        return sa.cast(c, sa.Text)

    def eq_operand(self, c: Expr, col: ColumnInfo) -> Expr:
        # equality under a deterministic collation is byte equality: no COLLATE, so an
        # index on the column serves eq and in
        if col.kind in ("other", "json") or (col.kind == "text" and not _pg_is_text_type(col)):
            return sa.cast(c, sa.Text)
        return c

    def range_operand(self, c: Expr, col: ColumnInfo) -> Expr:
        if col.kind in ("text", "other", "json"):
            return sa.collate(self.eq_operand(c, col), "C")
        return c

    def text_operand(self, c: Expr, col: ColumnInfo) -> Expr:
        return c if col.kind == "text" and _pg_is_text_type(col) else sa.cast(c, sa.Text)

    def contains(self, text: Expr, value: Expr) -> Expr:
        return sa.func.strpos(text, value) > 0

    def starts_with(self, text: Expr, value: Expr) -> Expr:
        return sa.func.left(text, sa.func.length(value)) == value

    def ends_with(self, text: Expr, value: Expr) -> Expr:
        return sa.func.right(text, sa.func.length(value)) == value

    def order_term(self, term: Sort) -> Expr:
        if not term.nullable:
            return super().order_term(term)
        if term.descending:
            return term.operand.desc().nulls_last()
        return term.operand.asc().nulls_first()

    @staticmethod
    def _labelled(rows: Rows) -> list[Expr]:
        if not rows.pairs:
            return [sa.func.json_build_object().label("j")]
        return [value.label(key) for key, value in rows.pairs]

    @staticmethod
    def _row(alias: str, rows: Rows) -> Expr:
        # "alias.*" rather than the bare alias: a column of the same name would win
        if not rows.pairs:
            return sql_text(f"{alias}.j")
        return sa.func.row_to_json(sql_text(f"{alias}.*"))

    def _aggregate(self, alias: str, rows: Rows) -> Expr:
        item = sql_text(f"{alias}.j") if not rows.pairs else sql_text(f"{alias}.*")
        return sa.func.coalesce(sa.func.json_agg(item), sql_text("'[]'"))

    def insert_for_upsert(self, t: Any) -> Any:
        return sa_postgresql.insert(t)

    async def estimate_rows(self, engine: Any, sql: str, args: tuple[Any, ...]) -> int | None:
        row = await engine.direct_read("EXPLAIN (FORMAT JSON) " + sql, args)
        if row is None:
            return None
        plan = json.loads(row[0]) if isinstance(row[0], str) else row[0]
        return int(plan[0]["Plan"]["Plan Rows"])

    def json_object(self, pairs: list[tuple[str, Expr]]) -> Expr:
        args: list[Any] = []
        for key, value in pairs:
            args += [sa.literal(key, sa.String), value]
        return sa.func.json_build_object(*args)

    def written_rows(self, statement: Any, pairs: list[tuple[str, Expr]]) -> Any:
        # RETURNING the rendered columns under their names, then row_to_json over the
        # CTE (json_build_object would stop at 50 columns)
        written = statement.returning(*(value.label(key) for key, value in pairs)).cte("w")
        return sa.select(sa.cast(sa.func.row_to_json(sql_text("w.*")), sa.Text)
                         ).select_from(written)

    def list_select(self, rows: Rows, count: Expr | None) -> Select[Any]:
        # json_agg reads the ordered subquery in order (there is no parallel json_agg);
        # PostgREST relies on the same
        order = [self.order_term(t) for t in rows.order]
        page = apply_rows(sa.select(*self._labelled(rows)), rows, order).subquery("s")
        body: Expr = sa.cast(self._aggregate("s", rows), sa.Text)
        guarded = [(key, plain[1]) for (key, _), plain in zip(rows.pairs, rows.columns,
                                                               strict=False)
                   if plain is not None and self._range_guarded(plain[0])]
        if guarded:
            # The 2**53 guard of wide integers (a CASE and to_json per value) costs about
            # a sixth of a page's time, and almost every page needs none of it: render
            # the page with the plain values when every one is within ±2**53 (json_agg
            # writes them exactly as to_json does), and only otherwise the guarded page,
            # which the CASE runs only then (the same statement: the same snapshot).
            plain = dict(guarded)
            fast_rows = replace(rows, pairs=[(key, plain.get(key, value))
                                             for key, value in rows.pairs])
            fast = apply_rows(sa.select(*self._labelled(fast_rows)), fast_rows,
                              order).subquery("f")
            bound = (sql_text(f"-{MAX_SAFE_INTEGER}"), sql_text(str(MAX_SAFE_INTEGER)))
            in_range = sa.func.bool_and(sa.and_(*(fast.c[key].between(*bound)
                                                  for key, _ in guarded)))
            slow = sa.select(body).select_from(page).scalar_subquery()
            body = sa.case((sa.func.coalesce(in_range, sa.true()),
                            sa.cast(self._aggregate("f", fast_rows), sa.Text)), else_=slow)
            page = fast
        columns: list[Expr] = [body]
        if count is not None:
            columns.append(count)
        return sa.select(*columns).select_from(page)

    def snapshot(self, server_version: tuple[int, ...] | None) -> Expr | None:
        # xmin:xmax:in-progress xids. Two snapshots with the same xmax and in-progress
        # list see the same committed transactions, hence the same rows: every write
        # takes a transaction id (which moves xmax), and a transaction in progress that
        # ends leaves the list. Read-only transactions take none.
        if server_version is not None and server_version < (13,):
            return None  # pg_current_snapshot() is PostgreSQL 13's
        return sa.cast(sa.func.pg_current_snapshot(), sa.Text)

    def record_select(self, rows: Rows) -> Select[Any]:
        sub = apply_rows(sa.select(*self._labelled(rows)), rows, []).subquery("s")
        return sa.select(sa.cast(self._row("s", rows), sa.Text)).select_from(sub)

    def one_expr(self, rows: Rows, alias: str) -> Expr:
        rows = replace(rows, limit=1)
        sub = apply_rows(sa.select(*self._labelled(rows)), rows, []).subquery(alias)
        return sa.select(self._row(alias, rows)).select_from(sub).scalar_subquery()

    def many_expr(self, rows: Rows, alias: str) -> Expr:
        order = [self.order_term(t) for t in rows.order]
        sub = apply_rows(sa.select(*self._labelled(rows)), rows, order).subquery(alias)
        return sa.select(self._aggregate(alias, rows)).select_from(sub).scalar_subquery()
