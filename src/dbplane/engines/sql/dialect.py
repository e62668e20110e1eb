"""What differs between SQLite, PostgreSQL and MariaDB in the Tables API's SQL: the base.

One small class per dialect (``tables_sqlite``, ``tables_postgresql``, ``tables_mariadb``),
as Alembic's ``ddl/impl.py`` has one ``DefaultImpl`` subclass per database: how a column's
value is rendered into JSON, how it is compared and sorted, how values are handed to the
driver, and the few statement skeletons (a page of rows as one JSON array, one record as
one JSON object, embedded relations). The statements are built in ``sql.compile``;
every choice documented in ``engines.tables`` is made in these classes.

Identifiers reach SQL only as ``sqlalchemy.table()``/``column()``/``label()`` names (quoted
by SQLAlchemy); values only as bound parameters. ``sql_text`` wraps the modules' own
constant SQL fragments (format strings, numbers), never a name or a value from a request.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.expression import FromClause, Select
from sqlalchemy.types import TypeEngine

from dbplane.query.model import ColumnInfo

__all__ = [
    "BIND_TYPES",
    "MAX_DOUBLE",
    "MAX_SAFE_INTEGER",
    "PATTERN_OPERATORS",
    "TEXTLIKE",
    "Expr",
    "Rows",
    "Sort",
    "TablesDialect",
    "apply_rows",
    "as_bytes",
    "as_text",
    "has_time_zone",
    "json_text",
    "sql_text",
    "utc",
]

Expr = ColumnElement[Any]

MAX_SAFE_INTEGER = 9007199254740991
"""2**53 - 1: the largest integer every JSON reader (JavaScript included) reads exactly."""

PATTERN_OPERATORS = frozenset({"contains", "notContains", "startsWith", "endsWith"})
TEXTLIKE = frozenset({"text", "uuid", "other", "json"})
MAX_DOUBLE = "1.7976931348623157e308"


def sql_text(fragment: str) -> Expr:
    """A constant SQL fragment of the Tables API's modules (never a name or a value from a
    request)."""
    return sa.literal_column(fragment)


def has_time_zone(col: ColumnInfo) -> bool:
    """The column holds an instant: PostgreSQL ``timestamp with time zone``, MariaDB
    ``timestamp`` (stored in UTC, shown in the session's zone, which dbplane sets to UTC)."""
    t = col.type_sql.lower()
    if "without time zone" in t:
        return False
    return "with time zone" in t or t.startswith("timestamptz")


def utc(value: dt.datetime) -> dt.datetime:
    return value.astimezone(dt.UTC) if value.tzinfo is not None else value


def as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    return str(value)


def as_bytes(value: Any) -> bytes:
    if isinstance(value, str):
        return bytes.fromhex(value)
    return bytes(value)


def json_text(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


@dataclass(frozen=True)
class Sort:
    """One sort term: the operand (``range_operand``), its direction, and whether the
    column can hold NULL (where it cannot, PostgreSQL needs no NULLS FIRST/LAST and can
    read the column's index in order)."""

    operand: Expr
    descending: bool = False
    nullable: bool = True


@dataclass
class Rows:
    """A set of rows to render: ``pairs`` are (JSON key, rendered value) in order;
    ``order`` the sort terms."""

    source: FromClause
    pairs: list[tuple[str, Expr]]
    where: Expr | None = None
    order: Sequence[Sort] = ()
    limit: Expr | int | None = None
    offset: Expr | int | None = None
    correlate: FromClause | None = None
    """The outer row's table, for an embedded relation (a correlated subquery)."""
    columns: Sequence[tuple[ColumnInfo, Expr] | None] = ()
    """For each pair, the column and its plain value when the pair renders a column
    (None for an embedded relation); empty when not known."""


def apply_rows(select: Select[Any], rows: Rows,
               order: Sequence[ColumnElement[Any]]) -> Select[Any]:
    """``select`` over ``rows``: its table, filter, order (as the dialect spells it),
    page and correlation."""
    select = select.select_from(rows.source)
    if rows.where is not None:
        select = select.where(rows.where)
    if order:
        select = select.order_by(*order)
    if rows.limit is not None:
        select = select.limit(rows.limit)
    if rows.offset is not None:
        select = select.offset(rows.offset)
    if rows.correlate is not None:
        select = select.correlate(rows.correlate)
    return select


class TablesDialect:
    """The Tables API's SQL for one database type (the SQLAlchemy dialect ``name``)."""

    name: ClassVar[str]

    direct: ClassVar[bool] = False
    """Reads run on the driver's connection (``fetch_direct``), past SQLAlchemy's cursor
    and transaction handling: a read is one statement, which needs neither."""

    literal_limits: ClassVar[bool] = False
    """LIMITs (a page's, an include's) are written into the statement as numbers instead
    of bound parameters: they are ints the planner parsed and bounded, and a bound LIMIT
    makes PostgreSQL plan the statement again on every execution (see PostgresTables)."""

    max_parameters: ClassVar[int] = 30000
    """Bound parameters one write statement may take (a bulk insert is split past it):
    below SQLite's 32,766 and PostgreSQL's 32,767."""

    update_returning: ClassVar[bool] = True
    """The database has ``UPDATE ... RETURNING`` (MariaDB has not)."""

    def previous_matched(self) -> Expr:
        """Where the database has no UPDATE ... RETURNING: true when the statement run
        just before on the same connection (the UPDATE) matched a row, so the read that
        follows it in the transaction answers nothing when the update found nothing."""
        raise NotImplementedError

    def written_rows(self, statement: Any, pairs: list[tuple[str, Expr]]) -> Any:
        """``statement`` (an INSERT, UPDATE or DELETE) made to answer one row per written
        row: its JSON object (text) of ``pairs`` (JSON key, rendered column)."""
        raise NotImplementedError

    def upsert(self, t: Any, values: list[dict[str, Any]], names: tuple[str, ...],
               conflict: tuple[str, ...], merge: bool) -> Any:
        """A multi-row INSERT of ``values`` whose rows conflicting on the unique key
        ``conflict`` update the given columns of the existing row (``merge``) or leave it
        (PostgreSQL's and SQLite's ``ON CONFLICT``, the default here)."""
        insert = self.insert_for_upsert(t).values(values)
        changed = [n for n in names if n not in conflict]
        if not merge or not changed:
            return insert.on_conflict_do_nothing(index_elements=list(conflict))
        return insert.on_conflict_do_update(
            index_elements=list(conflict), set_={n: insert.excluded[n] for n in changed})

    def insert_for_upsert(self, t: Any) -> Any:
        """The dialect's own ``insert`` (with ``on_conflict_do_*``)."""
        raise NotImplementedError

    async def estimate_rows(self, engine: Any, sql: str, args: tuple[Any, ...]) -> int | None:
        """The planner's estimate of the rows ``sql`` answers, or None where the database
        keeps none (``sql.counts``)."""
        return None

    def json_object(self, pairs: list[tuple[str, Expr]]) -> Expr:
        """A JSON object of ``pairs`` (key, value), embedded as an object in another."""
        raise NotImplementedError

    def written_operand(self, c: Expr) -> Expr:
        """A written column as ``written_rows`` renders it."""
        return c

    async def fetch_direct(self, driver: Any, sql: str,
                           args: tuple[Any, ...]) -> tuple[Any, ...] | None:
        """The first row of ``sql`` run on the driver's own connection."""
        raise NotImplementedError

    # -- values handed to the driver ---------------------------------------------------

    def bind_type(self, col: ColumnInfo | None, pattern: bool = False) -> TypeEngine[Any]:
        """The type of a bound parameter compared with ``col`` (PostgreSQL renders it as a
        cast, ``$1::VARCHAR``; the other dialects ignore it)."""
        if col is None:
            return sa.BigInteger()
        if pattern or col.kind in ("text", "other", "json"):
            return sa.String()
        return BIND_TYPES[col.kind]

    def to_driver(self, col: ColumnInfo, value: Any) -> Any:
        """``value`` (of the column's kind, as the planner converted it) as the driver
        binds it for this column, in a write or a comparison."""
        raise NotImplementedError

    def filter_value(self, col: ColumnInfo | None, value: Any, pattern: bool) -> Any:
        """A value of a filter, a key or a page bound (``col`` None)."""
        if col is None:
            return int(value)
        if pattern or col.kind in ("other", "json"):
            return as_text(value)
        return self.to_driver(col, value)

    # -- rendering -------------------------------------------------------------------

    def render(self, c: Expr, col: ColumnInfo) -> Expr:
        """The column's value as the JSON rendering needs it (see ``engines.tables``)."""
        raise NotImplementedError

    # -- comparing and sorting ---------------------------------------------------------

    def eq_operand(self, c: Expr, col: ColumnInfo) -> Expr:
        """The column as compared by ``eq ne in nin`` (case-sensitive, exact)."""
        return c

    def range_operand(self, c: Expr, col: ColumnInfo) -> Expr:
        """The column as compared by ``lt … between`` and sorted (text in code point
        order: the binary collation)."""
        return c

    def text_operand(self, c: Expr, col: ColumnInfo) -> Expr:
        """The column as text, for ``contains startsWith endsWith``."""
        return c

    def eq(self, c: Expr, col: ColumnInfo, value: Expr) -> Expr:
        return self.eq_operand(c, col) == value

    def in_(self, c: Expr, col: ColumnInfo, values: Sequence[Expr]) -> Expr:
        return self.eq_operand(c, col).in_(values)

    def contains(self, text: Expr, value: Expr) -> Expr:
        raise NotImplementedError

    def starts_with(self, text: Expr, value: Expr) -> Expr:
        raise NotImplementedError

    def ends_with(self, text: Expr, value: Expr) -> Expr:
        raise NotImplementedError

    def order_term(self, term: Sort) -> Expr:
        """NULLs first ascending and last descending: SQLite's and MariaDB's default."""
        return term.operand.desc() if term.descending else term.operand.asc()

    # -- statements --------------------------------------------------------------------

    def list_select(self, rows: Rows, count: Expr | None) -> Select[Any]:
        """One row: the page as one JSON array (text), and the total when ``count``."""
        raise NotImplementedError

    def snapshot(self, server_version: tuple[int, ...] | None) -> Expr | None:
        """An expression naming the statement's snapshot as text, equal for two
        statements exactly when they see the same data, if the database has one (see
        ``sql.compile``: a counted list then counts only when the data changed)."""
        return None

    def record_select(self, rows: Rows) -> Select[Any]:
        """One JSON object (text) per row of ``rows``."""
        raise NotImplementedError

    def one_expr(self, rows: Rows, alias: str) -> Expr:
        """An embedded many-to-one relation: an object or null (correlated)."""
        raise NotImplementedError

    def many_expr(self, rows: Rows, alias: str) -> Expr:
        """An embedded one-to-many relation: an array (correlated)."""
        raise NotImplementedError


BIND_TYPES: dict[str, TypeEngine[Any]] = {
    "integer": sa.BigInteger(),
    "float": sa.Float(),
    "decimal": sa.Numeric(),
    "boolean": sa.Boolean(),
    "date": sa.Date(),
    "datetime": sa.DateTime(),
    "time": sa.Time(),
    "uuid": sa.Uuid(),
    "binary": sa.LargeBinary(),
}
