"""What differs between the SQL types in reading a database's schema: the base.

One small class per type (``<type>/catalog.py``), reached as the engine class's
``catalog_dialect``, as ``tables_dialect`` is for the Tables API's SQL. It answers:

- the one catalog query of the type (``read_columns``): for every column of every table
  and view, what reflection does not say, or says in other words than the engine's own
  (the declared or formatted type, its sizes, the default as the catalog states it,
  auto-increment, JSON and boolean columns behind other types). Both readings of the
  schema take it from there (``sql.reflect``): the Tables API's ``SchemaInfo`` and the
  Directus snapshot; a ``full`` read (the snapshot's) adds what only the snapshot uses
  where it costs more to ask;
- the cheap ``schema_version`` query (``version_sql``), which runs every few seconds;
- how the snapshot names a column's type and default where the types disagree
  (``field_type``, ``default_value``, ``max_length``), and which columns a SQLite rebuild
  must declare again (``redeclared``);
- where a whole-schema read runs (``run_read``: a pool connection, or SQLite's own file).

Every method is pure but ``read_columns`` and ``run_read``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from dbplane.query.model import ColumnKind

if TYPE_CHECKING:
    from dbplane.engines.sql.engine import SqlEngine

__all__ = [
    "JSON_VALID",
    "NO_COLUMN",
    "Catalog",
    "CatalogColumn",
    "CatalogDialect",
    "int_or_none",
]

T = TypeVar("T")


@dataclass(slots=True)
class CatalogColumn:
    """What the type's catalog query says about one column (``NO_COLUMN``: nothing).
    Read-only once made (not frozen: a frozen dataclass costs six times more to make, and
    a read makes one per column)."""

    # -- read by the Tables API (``SchemaInfo``) --
    type_sql: str = ""
    """The type in the engine's own words; empty: the reflected type, compiled."""
    kind: ColumnKind | None = None
    """Set when the catalog knows better than the reflected type."""
    autoincrement: bool = False
    """The database makes the value (a rowid, an identity, a sequence, AUTO_INCREMENT)."""

    # -- read by the snapshot (``LiveSchema``) --
    data_type: str = ""
    max_length: int | None = None
    precision: int | None = None
    scale: int | None = None
    default: str | None = None
    """The default as the catalog states it (None: take the reflected one)."""
    has_auto_increment: bool = False
    json: bool = False
    boolean: bool = False
    uuid: bool = False
    declared: str = ""
    """SQLite: the declared type as written."""


NO_COLUMN = CatalogColumn()
"""A column the catalog query did not answer for."""

Catalog = Mapping[tuple[str, str], CatalogColumn]
"""(table, column) → what the catalog says."""

JSON_VALID = re.compile(r"json_valid\(`((?:[^`]|``)+)`\)", re.IGNORECASE)
"""The check MariaDB makes for a JSON column (an alias of LONGTEXT): it marks the column
as JSON, and is no check of the snapshot's."""

_QUOTED = re.compile(r"^'((?:[^']|'')*)'$", re.S)
_NUMBER = re.compile(r"^-?\d+(\.\d+)?([eE][-+]?\d+)?$")


def int_or_none(v: Any) -> int | None:
    try:
        return int(v) if v is not None else None
    except (TypeError, ValueError):
        return None


class CatalogDialect:
    """How one SQL type's schema is read (the base: what every type shares)."""

    version_sql: ClassVar[str]
    """One statement answering a value that changes when the schema does."""

    foreign_keys_make_indexes: ClassVar[bool] = False
    """Whether the database makes an index, named as the foreign key, for each foreign key
    (MariaDB): such an index is the key's, not the snapshot's."""

    unsized_string: ClassVar[str] = "text"
    """The snapshot's type of a string column declared without a length."""

    def read_columns(self, conn: Connection, *, views: bool = True,
                     full: bool = False) -> dict[tuple[str, str], CatalogColumn]:
        """The catalog query: every column of the tables (and with ``views`` the
        views) of the current schema, in one statement; ``full``: with everything the
        snapshot reads (the Tables API's reading does without it where it costs more).
        A type may answer for more columns than asked where leaving them out costs
        more."""
        raise NotImplementedError

    def fill_foreign_key_options(self, conn: Connection,
                                 fks: dict[Any, list[Any]]) -> None:
        """Complete reflected foreign keys' ``options`` (``onupdate``, ``ondelete``) where
        SQLAlchemy leaves them out (SQLite); the base has nothing to add."""

    async def run_read(self, engine: SqlEngine, read: Callable[[Connection], T]) -> T:
        """Run a whole-schema read (``read`` on a synchronous connection)."""
        async with engine.sa_engine.connect() as conn:
            return await conn.run_sync(read)

    # -- the snapshot's words ------------------------------------------------------------

    def holds_instant(self, t: Any) -> bool:
        """Whether a reflected date-time type is the snapshot's ``timestamp`` (rather
        than ``dateTime``)."""
        return isinstance(t, sa.TIMESTAMP)

    def field_type(self, t: Any, cat: CatalogColumn) -> str:
        """The snapshot's type of a column, from its reflected type and the catalog."""
        if cat.json or isinstance(t, sa.JSON):
            return "json"
        if cat.boolean or isinstance(t, sa.Boolean):
            return "boolean"
        if cat.uuid or isinstance(t, sa.Uuid):
            return "uuid"
        if isinstance(t, sa.BigInteger):
            return "bigInteger"
        if isinstance(t, sa.Integer):
            return "integer"
        if isinstance(t, sa.Float):
            return "float"
        if isinstance(t, sa.Numeric):
            return "decimal"
        if isinstance(t, sa.DateTime):
            return "timestamp" if self.holds_instant(t) else "dateTime"
        if isinstance(t, sa.Date):
            return "date"
        if isinstance(t, sa.Time):
            return "time"
        if isinstance(t, sa.Text):
            return "text"
        if isinstance(t, sa.String):
            return self.unsized_string if getattr(t, "length", None) is None else "string"
        if isinstance(t, (sa.LargeBinary, sa.types._Binary)):
            return "binary"
        return "unknown"

    def default_text(self, text: str) -> str | None:
        """A default's text as the catalog states it, without what the engine adds to it
        (casts, parentheses); None for a NULL default."""
        return text

    def default_value(self, raw: str | None, ftype: str) -> Any:
        """A reflected default as a JSON value: literals unquoted and typed, expressions
        (``CURRENT_TIMESTAMP``, ``nextval(...)``) as their text."""
        if raw is None:
            return None
        text = self.default_text(str(raw).strip())
        if text is None:
            return None
        quoted = _QUOTED.match(text)
        value: Any = quoted.group(1).replace("''", "'") if quoted else text
        if ftype == "boolean":
            low = str(value).lower()
            if low in ("1", "true", "t", "b'1'"):
                return True
            if low in ("0", "false", "f", "b'0'"):
                return False
        if ftype in ("integer", "bigInteger", "float", "decimal") and isinstance(value, str) \
                and _NUMBER.match(value):
            number = float(value)
            return int(number) if ftype in ("integer", "bigInteger") or (
                number.is_integer() and "." not in value) else number
        return value

    def max_length(self, cat: CatalogColumn, ftype: str) -> int | None:
        """The snapshot's ``max_length`` of a column of type ``ftype``."""
        return cat.max_length

    def redeclared(self, cat: CatalogColumn) -> bool:
        """Whether a rebuild of the table must declare the column's type again as it is
        (reflection misreads it)."""
        return False
