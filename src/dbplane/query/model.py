"""The Tables API's plain values: what a table looks like, what was asked, what will run.

Pure: frozen dataclasses, no I/O, no driver or SQLAlchemy imports. Three stages, as in
PostgREST (ApiRequest → ReadPlan → SQL):

- ``TableInfo`` / ``SchemaInfo``: a database's live schema, built by an engine's
  introspection;
- ``TableRequest``: the request parameters, parsed for syntax only
  (``query.params.parse_table_params``);
- ``ReadPlan`` / ``WritePlan``: the request checked against a ``TableInfo``: every
  column, operator and value resolved and converted (``query.plan``). Engines compile
  these into SQL; nothing from a request reaches SQL except through them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = [
    "ColumnInfo",
    "ColumnKind",
    "Condition",
    "FilterGroup",
    "ForeignKey",
    "Include",
    "IncludeRequest",
    "OrderBy",
    "Predicate",
    "PredicateGroup",
    "ReadPlan",
    "SchemaInfo",
    "SortKey",
    "TableInfo",
    "TableRequest",
    "WritePlan",
]

ColumnKind = Literal[
    "integer",   # any integer type (bigint included); a boolean stored as integer is "boolean"
    "float",     # real, double precision
    "decimal",   # numeric / decimal: exact, rendered as a string
    "text",      # char, varchar, text, enum
    "boolean",   # boolean, or MySQL tinyint(1), or a SQLite column declared BOOLEAN
    "date",
    "datetime",  # timestamp / datetime, with or without time zone
    "time",
    "json",
    "binary",    # blob / bytea / varbinary: rendered as lower-case hex
    "uuid",
    "other",     # anything else: compared and rendered as text
]


# -- the live schema ------------------------------------------------------------------


@dataclass(frozen=True)
class ColumnInfo:
    name: str
    kind: ColumnKind
    type_sql: str
    """The column's type as the engine states it (``INTEGER``, ``varchar(255)``)."""
    nullable: bool = True
    default: str | None = None
    """The server default as SQL text, or None."""
    primary_key: bool = False
    autoincrement: bool = False
    """The database generates the value (serial, identity, auto_increment, rowid alias)."""


@dataclass(frozen=True)
class ForeignKey:
    name: str | None
    columns: tuple[str, ...]
    referred_table: str
    referred_columns: tuple[str, ...]


@dataclass(frozen=True)
class TableInfo:
    name: str
    kind: Literal["table", "view"]
    columns: tuple[ColumnInfo, ...]
    primary_key: tuple[str, ...] = ()
    foreign_keys: tuple[ForeignKey, ...] = ()

    def column(self, name: str) -> ColumnInfo | None:
        for col in self.columns:
            if col.name == name:
                return col
        return None

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)


@dataclass(frozen=True)
class SchemaInfo:
    """Every table and view of one database, and an opaque version to check it against."""

    tables: Mapping[str, TableInfo]
    version: str = ""


# -- what was asked (syntax only) -----------------------------------------------------


@dataclass(frozen=True)
class SortKey:
    column: str
    descending: bool = False


@dataclass(frozen=True)
class Condition:
    """``filters[column][$operator]=value``: names and values as the request gave them."""

    column: str
    operator: str
    value: str | tuple[str, ...] | None


@dataclass(frozen=True)
class FilterGroup:
    """``$and`` / ``$or`` of conditions and nested groups (the top level is an ``and``)."""

    kind: Literal["and", "or"]
    items: tuple[Condition | FilterGroup, ...]


@dataclass(frozen=True)
class IncludeRequest:
    name: str
    limit: int | None = None


@dataclass(frozen=True)
class TableRequest:
    limit: int | None = None
    offset: int = 0
    sort: tuple[SortKey, ...] = ()
    fields: tuple[str, ...] | None = None
    filters: FilterGroup | None = None
    count_exact: bool = False
    include: tuple[IncludeRequest, ...] = ()
    include_content_type: bool = False
    count_estimate: Literal["planned", "estimated"] | None = None
    """``count=planned|estimated``: the total as the planner estimates it."""
    after: str | None = None
    """Keyset pagination: the cursor of the previous page's last row ('' for the first
    page); None for offset pagination."""


# -- what will run ----------------------------------------------------------------------


@dataclass(frozen=True)
class Predicate:
    """A checked condition: ``operator`` is a canonical name from ``query.operators``
    (``eq``, ``ne``, ``lt``, ``lte``, ``gt``, ``gte``, ``in``, ``nin``, ``contains``,
    ``notContains``, ``startsWith``, ``endsWith``, ``null``, ``notNull``, ``between``);
    ``value`` is converted to the column's kind (a tuple for ``in``, ``nin``,
    ``between``; None for ``null``, ``notNull``)."""

    column: ColumnInfo
    operator: str
    value: Any


@dataclass(frozen=True)
class PredicateGroup:
    kind: Literal["and", "or"]
    items: tuple[Predicate | PredicateGroup, ...]


@dataclass(frozen=True)
class OrderBy:
    column: ColumnInfo
    descending: bool = False


@dataclass(frozen=True)
class Include:
    """A related table embedded in each row under ``name``.

    ``many-to-one``: the one row of ``table`` whose ``remote_columns`` equal this row's
    ``local_columns`` (an object, or null). ``one-to-many``: the rows of ``table`` whose
    ``remote_columns`` equal this row's ``local_columns`` (an array of at most ``limit``).
    """

    name: str
    kind: Literal["many-to-one", "one-to-many"]
    table: TableInfo
    local_columns: tuple[str, ...]
    remote_columns: tuple[str, ...]
    limit: int | None = None


@dataclass(frozen=True)
class ReadPlan:
    table: TableInfo
    columns: tuple[ColumnInfo, ...]
    """The columns rendered in each row, in order."""
    where: PredicateGroup | None = None
    order: tuple[OrderBy, ...] = ()
    limit: int | None = None
    offset: int = 0
    count_exact: bool = False
    includes: tuple[Include, ...] = ()
    key: tuple[tuple[ColumnInfo, Any], ...] | None = None
    """Set for a read of one record by its primary key: (column, value) pairs."""

    def shape(self) -> tuple[Any, ...]:
        """Everything but the values: requests with the same shape compile to the same SQL
        (engines cache compiled statements by it)."""

        def group_shape(g: PredicateGroup | None) -> Any:
            if g is None:
                return None
            return (g.kind, tuple(
                group_shape(i) if isinstance(i, PredicateGroup) else (
                    i.column.name, i.operator,
                    len(i.value) if isinstance(i.value, tuple) else None)
                for i in g.items))

        return (
            self.table.name,
            tuple(c.name for c in self.columns),
            group_shape(self.where),
            tuple((o.column.name, o.descending) for o in self.order),
            self.limit is not None,
            self.offset != 0,
            self.count_exact,
            tuple((i.name, i.limit) for i in self.includes),
            tuple(c.name for c, _ in self.key) if self.key is not None else None,
        )


@dataclass(frozen=True)
class WritePlan:
    """A checked write. ``rows``: for ``insert``, one mapping per row (column name → value
    converted to the column's kind); for ``update``, the one mapping of changed columns.
    ``key``: for ``update`` and ``delete``, the primary key (column, value) pairs."""

    table: TableInfo
    action: Literal["insert", "update", "delete"]
    rows: tuple[Mapping[str, Any], ...] = ()
    key: tuple[tuple[ColumnInfo, Any], ...] | None = None
    returning: tuple[ColumnInfo, ...] = field(default=())
    """The columns of the record answered after the write."""
    where: PredicateGroup | None = None
    """A bulk update or delete: the rows it touches (``key`` None); None with ``key``
    None too: every row (``all=true``)."""
    conflict: tuple[str, ...] = ()
    """An upsert (``insert``): the unique key whose conflict ``resolution`` resolves."""
    resolution: Literal["merge-duplicates", "ignore-duplicates"] | None = None
    max_affected: int | None = None
    """A bulk update or delete touching more rows than this is refused (rolled back)."""
