"""One read of a SQL database's schema, and its two readings.

``reflect`` reads the database once: SQLAlchemy reflection (the ``get_multi_*`` calls,
one round per kind of object) and the type's one catalog query
(``CatalogDialect.read_columns``: what reflection does not say, or says in other words
than the engine's own). It reads what its reader needs, no more: views only when asked
(``views``: the snapshot has none, and a view whose table is gone must not break it), and
indexes, unique constraints, checks and what only the snapshot reads of the catalog
only when asked (``full``: the Tables API does not need them).

Two pure projections of a ``Reflection``:

- ``table_infos``: the Tables API's tables and views (``dbplane.query.model``);
- ``live_schema``: the Directus snapshot's collections, fields and relations, and the names
  of the objects a plan may have to drop (``LiveSchema``; needs a ``full`` reflection).
"""

from __future__ import annotations

import contextlib
import warnings
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.engine.reflection import Inspector, ObjectKind

from dbplane.engines.sql.catalog import (
    JSON_VALID,
    NO_COLUMN,
    Catalog,
    CatalogColumn,
    CatalogDialect,
)
from dbplane.query.model import ColumnInfo, ColumnKind, ForeignKey, TableInfo
from dbplane.schema.plan import IndexSpec

__all__ = [
    "EXPRESSION_INDEX",
    "INTERNAL_TABLE_PREFIXES",
    "LiveSchema",
    "Reflection",
    "live_schema",
    "reflect",
    "table_infos",
]

TableKey = tuple[str | None, str]

EXPRESSION_INDEX = r".*(expression-based index|index .* expression)"
"""SQLAlchemy's warning for an index it does not reflect (expressions): not represented."""

_INTERNAL = ("dbplane_", "_alembic_tmp_")
INTERNAL_TABLE_PREFIXES = _INTERNAL
"""Tables that are dbplane's own bookkeeping inside a database (the routines' ledger
``dbplane_migrations``), or a batch rebuild's scratch table: never in a snapshot, so never
dropped by an apply."""


@dataclass(frozen=True)
class Reflection:
    """What one read of the database answered (keys of the dicts: ``(None, name)``)."""

    dialect: Dialect
    default_schema: str | None
    tables: list[str]
    views: list[str]
    catalog: Catalog
    columns: dict[TableKey, list[Any]]
    pks: dict[TableKey, Any]
    fks: dict[TableKey, list[Any]]
    full: bool = False
    """Whether indexes, unique constraints and checks were read."""
    indexes: dict[TableKey, list[Any]] = field(default_factory=dict)
    uniques: dict[TableKey, list[Any]] = field(default_factory=dict)
    checks: dict[TableKey, list[Any]] = field(default_factory=dict)


def _view_names(insp: Inspector) -> list[str]:
    views = list(insp.get_view_names())
    with contextlib.suppress(NotImplementedError):
        views += insp.get_materialized_view_names()
    return views


def reflect(conn: Connection, catalog: CatalogDialect, *, views: bool = True,
            full: bool = False) -> Reflection:
    """Read the tables (and with ``views`` the views) of the current schema (SQLite: not
    its ``sqlite_`` tables; PostgreSQL: materialized views counted as views): columns,
    primary and foreign keys, and with ``full`` the tables' indexes, unique constraints
    and checks."""
    columns_of = catalog.read_columns(conn, views=views, full=full)
    insp = sa.inspect(conn)
    kind = ObjectKind.ANY if views else ObjectKind.TABLE
    with warnings.catch_warnings():
        # "Did not recognize type …": the catalog names those types
        warnings.simplefilter("ignore", sa_exc.SAWarning)
        tables = insp.get_table_names()
        view_names = _view_names(insp) if views else []
        columns = insp.get_multi_columns(kind=kind)
        pks = insp.get_multi_pk_constraint(kind=kind)
        fks = insp.get_multi_foreign_keys(kind=kind)
    catalog.fill_foreign_key_options(conn, fks)
    if not full:
        return Reflection(conn.dialect, insp.default_schema_name, tables, view_names,
                          columns_of, columns, pks, fks)
    with warnings.catch_warnings():  # they are left out of the snapshot on purpose
        warnings.filterwarnings("ignore", EXPRESSION_INDEX, sa_exc.SAWarning)
        indexes = insp.get_multi_indexes(kind=ObjectKind.TABLE)
        uniques = insp.get_multi_unique_constraints(kind=ObjectKind.TABLE)
    try:
        checks = insp.get_multi_check_constraints(kind=ObjectKind.TABLE)
    except NotImplementedError:  # pragma: no cover
        checks = {}
    return Reflection(conn.dialect, insp.default_schema_name, tables, view_names,
                      columns_of, columns, pks, fks, True, indexes, uniques, checks)


# -- the Tables API's reading -----------------------------------------------------------


def _kind_of_sa_type(t: Any) -> ColumnKind:
    """The kind of a reflected SQLAlchemy type (order matters: Boolean before Integer,
    Float before Numeric, DateTime before Date, Enum is a String)."""
    checks: list[tuple[type[Any] | tuple[type[Any], ...], ColumnKind]] = [
        (sa.Boolean, "boolean"),
        (sa.Integer, "integer"),
        (sa.Float, "float"),
        (sa.Numeric, "decimal"),
        (sa.DateTime, "datetime"),
        (sa.Date, "date"),
        (sa.Time, "time"),
        (sa.JSON, "json"),
        ((sa.LargeBinary, sa.types._Binary), "binary"),
        (sa.Uuid, "uuid"),
        (sa.String, "text"),
    ]
    for cls, kind in checks:
        if isinstance(t, cls):
            return kind
    return "other"


def _type_text(t: Any, dialect: Dialect) -> str:
    try:
        return str(t.compile(dialect=dialect))
    except Exception:  # an unknown type (NullType) has no SQL spelling
        return ""


def table_infos(r: Reflection) -> dict[str, TableInfo]:
    """Every table and view read, as the Tables API sees it."""
    out: dict[str, TableInfo] = {}
    views = set(r.views)
    for name in sorted([*r.tables, *r.views]):
        is_view = name in views
        key = (None, name)
        pk: tuple[str, ...] = ()
        if not is_view:
            constraint = r.pks.get(key)
            if constraint is not None:
                pk = tuple(constraint.get("constrained_columns") or ())
        cols: list[ColumnInfo] = []
        for col in r.columns.get(key, []):
            extra = r.catalog.get((name, col["name"]), NO_COLUMN)
            auto = not is_view and (extra.autoincrement or bool(col.get("identity")))
            default = col.get("default")
            cols.append(ColumnInfo(
                name=col["name"],
                kind=extra.kind if extra.kind is not None else _kind_of_sa_type(col["type"]),
                type_sql=extra.type_sql or _type_text(col["type"], r.dialect),
                nullable=bool(col.get("nullable", True)) and not (auto and col["name"] in pk),
                default=None if default is None else str(default),
                primary_key=col["name"] in pk,
                autoincrement=auto,
            ))
        foreign: list[ForeignKey] = []
        if not is_view:
            for fk in r.fks.get(key, []):
                if fk.get("referred_schema") not in (None, r.default_schema):
                    continue  # a table of another schema is not served
                foreign.append(ForeignKey(
                    name=fk.get("name"),
                    columns=tuple(fk["constrained_columns"]),
                    referred_table=fk["referred_table"],
                    referred_columns=tuple(fk["referred_columns"])))
        out[name] = TableInfo(name=name, kind="view" if is_view else "table",
                              columns=tuple(cols), primary_key=pk,
                              foreign_keys=tuple(foreign))
    return out


# -- the snapshot's reading -------------------------------------------------------------


@dataclass
class LiveSchema:
    """A database's schema as snapshot objects (``meta`` left None), and the names of the
    objects a plan may have to drop."""

    collections: list[dict[str, Any]]
    fields: list[dict[str, Any]]
    relations: list[dict[str, Any]]
    index_names: dict[tuple[str, IndexSpec], tuple[str, str]] = field(default_factory=dict)
    """(table, index) → (name, ``index`` or ``constraint``)."""
    pk_names: dict[str, str | None] = field(default_factory=dict)
    fk_index_names: dict[str, set[str]] = field(default_factory=dict)
    """Table → names of the indexes the database made for its foreign keys (MariaDB)."""
    declared: dict[str, dict[str, tuple[str, bool, str | None, bool]]] = field(
        default_factory=dict)
    """Table → column → (declared type, nullable, default, primary key) of the columns
    whose type reflection misreads (SQLite: ``UUID`` reads as NUMERIC by affinity): a
    batch rebuild declares them again as they were."""


def live_schema(r: Reflection, catalog: CatalogDialect) -> LiveSchema:
    """The tables (not views, not dbplane's own) as the snapshot sees them."""
    assert r.full, "the snapshot reads indexes, unique constraints and checks"
    names = sorted(n for n in r.tables if not n.startswith(_INTERNAL))
    live = LiveSchema([], [], [])
    for table in names:
        _table(live, r, catalog, table)
    return live


def _indexes(live: LiveSchema, r: Reflection, catalog: CatalogDialect, table: str,
             pk_cols: list[str], fk_names: set[str]) -> dict[IndexSpec, tuple[str, str]]:
    key = (None, table)
    idx_all: dict[IndexSpec, tuple[str, str]] = {}
    for uq in r.uniques.get(key, []):
        cols: tuple[str, ...] = tuple(c for c in uq["column_names"] if c is not None)
        spec = IndexSpec(cols, True)
        uq_name = uq.get("name") or f"uq_{table}_{'_'.join(cols)}"
        idx_all.setdefault(spec, (uq_name, "constraint"))
    for ix in r.indexes.get(key, []):
        cols_raw = ix.get("column_names") or []
        where = {k: v for k, v in (ix.get("dialect_options") or {}).items()
                 if k.endswith("_where") and v is not None}
        if not cols_raw or any(c is None for c in cols_raw) or where:
            continue  # expression or partial index: not representable
        cols = tuple(c for c in cols_raw if c is not None)
        unique = bool(ix.get("unique"))
        ix_name = str(ix["name"])
        if catalog.foreign_keys_make_indexes and not unique and ix_name in fk_names:
            live.fk_index_names.setdefault(table, set()).add(ix_name)
            continue
        if ix.get("duplicates_constraint"):
            continue
        idx_all.setdefault(IndexSpec(cols, unique), (ix_name, "index"))
    if tuple(pk_cols) and IndexSpec(tuple(pk_cols), True) in idx_all:
        idx_all.pop(IndexSpec(tuple(pk_cols), True))
    return idx_all


def _table(live: LiveSchema, r: Reflection, catalog: CatalogDialect, table: str) -> None:
    key = (None, table)
    pk: dict[str, Any] = dict(r.pks.get(key) or {})
    pk_cols = list(pk.get("constrained_columns") or [])
    live.pk_names[table] = pk.get("name")
    table_fks = [fk for fk in r.fks.get(key, []) if fk.get("referred_table")]
    fk_names = {fk["name"] for fk in table_fks if fk.get("name")}
    idx_all = _indexes(live, r, catalog, table, pk_cols, fk_names)
    for spec, named in idx_all.items():
        live.index_names[(table, spec)] = named
    multi = [{"columns": list(s.columns), "unique": s.unique}
             for s in idx_all if len(s.columns) > 1]
    single_unique = {s.columns[0] for s in idx_all if len(s.columns) == 1 and s.unique}
    single_index = {s.columns[0] for s in idx_all if len(s.columns) == 1 and not s.unique}
    table_checks = []
    for n, chk in enumerate(r.checks.get(key, [])):
        sqltext = str(chk.get("sqltext", "")).strip()
        if JSON_VALID.fullmatch(sqltext):
            continue
        table_checks.append({"name": chk.get("name") or f"{table}_check_{n}",
                             "expression": sqltext})
    collection_schema: dict[str, Any] = {"name": table}
    if multi:
        collection_schema["indexes"] = sorted(multi, key=lambda i: (i["columns"],
                                                                    i["unique"]))
    if table_checks:
        collection_schema["checks"] = sorted(table_checks, key=lambda c: c["name"])
    live.collections.append({"collection": table, "meta": None,
                             "schema": collection_schema})
    single_fk = {fk["constrained_columns"][0]: fk for fk in table_fks
                 if len(fk["constrained_columns"]) == 1}
    for col in r.columns.get(key, []):
        live.fields.append(_field(live, catalog, table, col, r.catalog.get(
            (table, col["name"]), NO_COLUMN), pk_cols, single_unique, single_index,
            single_fk.get(col["name"])))
    for fk in table_fks:
        if len(fk["constrained_columns"]) != 1:
            continue  # Directus relations are one column; several are not represented
        options = fk.get("options") or {}
        live.relations.append({
            "collection": table, "field": fk["constrained_columns"][0],
            "related_collection": fk["referred_table"], "meta": None,
            "schema": {
                "table": table, "column": fk["constrained_columns"][0],
                "foreign_key_table": fk["referred_table"],
                "foreign_key_column": fk["referred_columns"][0],
                "constraint_name": fk.get("name"),
                "on_update": str(options.get("onupdate") or "NO ACTION").upper(),
                "on_delete": str(options.get("ondelete") or "NO ACTION").upper(),
            }})


def _field(live: LiveSchema, catalog: CatalogDialect, table: str, col: Any,
           c: CatalogColumn, pk_cols: list[str], single_unique: set[str],
           single_index: set[str], fk: Any) -> dict[str, Any]:
    name = col["name"]
    ftype = catalog.field_type(col["type"], c)
    if catalog.redeclared(c):
        live.declared.setdefault(table, {})[name] = (
            c.declared, bool(col.get("nullable", True)), col.get("default"),
            name in pk_cols)
    is_pk = name in pk_cols
    computed = col.get("computed")
    return {
        "collection": table, "field": name, "type": ftype, "meta": None,
        "schema": {
            "name": name, "table": table, "data_type": c.data_type or None,
            "default_value": None if computed else catalog.default_value(
                c.default if c.default is not None else col.get("default"), ftype),
            "max_length": catalog.max_length(c, ftype),
            "numeric_precision": c.precision, "numeric_scale": c.scale,
            "is_nullable": bool(col.get("nullable", True)),
            "is_unique": name in single_unique or (is_pk and len(pk_cols) == 1),
            "is_indexed": name in single_index,
            "is_primary_key": is_pk,
            "is_generated": computed is not None,
            "generation_expression": str(computed["sqltext"]) if computed else None,
            "has_auto_increment": c.has_auto_increment and is_pk,
            "foreign_key_table": fk["referred_table"] if fk else None,
            "foreign_key_column": fk["referred_columns"][0] if fk else None,
        }}
