"""Schema as code on SQL engines: read a database's schema as a snapshot, and apply a plan.

Reading: SQLAlchemy reflection (the ``get_multi_*`` calls, one round per kind of object)
plus one catalog query for what reflection says in other words than Directus: the column's
``data_type``, precision and default as the catalog states them (``information_schema`` on
PostgreSQL and MariaDB, ``pragma_table_xinfo`` on SQLite), auto-increment, and MariaDB's
JSON columns (LONGTEXT with a ``json_valid`` check).

Applying: Alembic's ``Operations`` on the live connection. SQLite rebuilds a table in
batch mode (rows and indexes kept) inside one transaction, with foreign keys checked before
the commit; PostgreSQL runs the whole plan in one transaction; MariaDB commits every DDL
statement, so the plan runs in order and stops at the first failure, saying what was and was
not applied. Every apply holds the database's own lock (the routines' migration lock) and
reads the schema again under it, so applies from several replicas run one after the other
and a plan made for a schema changed meanwhile is refused. ``render_sql`` answers the
statements without changing anything.
"""

from __future__ import annotations

import asyncio
import io
import re
import sqlite3
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic.operations import Operations
from alembic.runtime.migration import MigrationContext
from sqlalchemy import event
from sqlalchemy.dialects.sqlite.base import ischema_names as sqlite_ischema_names
from sqlalchemy.engine import Connection

from dbplane.engines.base import exception_chain, network_error
from dbplane.engines.sql.engine import SqlEngine
from dbplane.engines.sql.lock import DatabaseLock, LockBusy, lock_of
from dbplane.errors import SchemaApplyFailed, StaleSchemaHash, Unavailable
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

__all__ = ["LiveSchema", "apply_plan", "read_schema", "render_sql"]



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
    """MariaDB: table → names of the indexes it made for foreign keys."""
    declared: dict[str, dict[str, tuple[str, bool, str | None, bool]]] = field(
        default_factory=dict)
    """SQLite: table → column → (declared type, nullable, default, primary key) of the
    columns whose type reflection misreads (``UUID`` reads as NUMERIC by affinity): a
    batch rebuild declares them again as they were."""


# -- reading ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Cat:
    data_type: str
    max_length: int | None = None
    precision: int | None = None
    scale: int | None = None
    default: str | None = None
    auto: bool = False
    json: bool = False
    boolean: bool = False
    uuid: bool = False
    declared: str = ""


def _int_or_none(v: Any) -> int | None:
    try:
        return int(v) if v is not None else None
    except (TypeError, ValueError):
        return None


_SIZE = re.compile(r"^\s*([A-Za-z][A-Za-z0-9 _]*?)\s*(?:\(\s*(\d+)\s*(?:,\s*(\d+)\s*)?\))?\s*$")


def _sqlite_catalog(conn: Connection) -> dict[tuple[str, str], _Cat]:
    rows = conn.exec_driver_sql(
        "SELECT m.name, p.name, p.type, p.pk, p.dflt_value FROM sqlite_master AS m "
        "JOIN pragma_table_xinfo(m.name) AS p WHERE m.type = 'table' "
        "AND m.name NOT LIKE 'sqlite~_%' ESCAPE '~'").all()
    pk_count: dict[str, int] = {}
    for table, _, _, pk, _ in rows:
        pk_count[table] = pk_count.get(table, 0) + (1 if pk else 0)
    without_rowid = {r[0] for r in conn.exec_driver_sql(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND sql LIKE '%WITHOUT ROWID%'"
    ).all()}
    out = {}
    for table, column, declared, pk, default in rows:
        declared = str(declared or "")
        m = _SIZE.match(declared)
        base = (m.group(1) if m else declared).strip().lower()
        n1 = int(m.group(2)) if m and m.group(2) else None
        n2 = int(m.group(3)) if m and m.group(3) else None
        is_decimal = base.startswith(("numeric", "decimal"))
        auto = (pk == 1 and pk_count[table] == 1 and base == "integer"
                and table not in without_rowid)
        out[(table, column)] = _Cat(
            base, max_length=None if is_decimal else n1,
            precision=n1 if is_decimal else None, scale=n2 if is_decimal else None,
            default=default, auto=auto, boolean=base.startswith("bool"),
            json=base.startswith("json"), uuid=base.startswith("uuid"), declared=declared)
    return out


def _postgresql_catalog(conn: Connection) -> dict[tuple[str, str], _Cat]:
    rows = conn.exec_driver_sql(
        "SELECT table_name, column_name, data_type, character_maximum_length, "
        "numeric_precision, numeric_scale, column_default, is_identity, udt_name "
        "FROM information_schema.columns WHERE table_schema = current_schema()").all()
    out = {}
    for table, column, data_type, length, precision, scale, default, identity, udt in rows:
        data_type = str(data_type)
        if data_type == "ARRAY" or data_type == "USER-DEFINED":
            data_type = str(udt)
        out[(table, column)] = _Cat(
            data_type, _int_or_none(length), _int_or_none(precision), _int_or_none(scale),
            default, auto=identity == "YES" or str(default or "").startswith("nextval("),
            json=data_type in ("json", "jsonb"), boolean=data_type == "boolean",
            uuid=data_type == "uuid")
    return out


_JSON_VALID = re.compile(r"json_valid\(`((?:[^`]|``)+)`\)", re.IGNORECASE)


def _mysql_catalog(conn: Connection) -> dict[tuple[str, str], _Cat]:
    rows = conn.exec_driver_sql(
        "SELECT TABLE_NAME, COLUMN_NAME, DATA_TYPE, CHARACTER_MAXIMUM_LENGTH, "
        "NUMERIC_PRECISION, NUMERIC_SCALE, COLUMN_DEFAULT, EXTRA, COLUMN_TYPE "
        "FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE()").all()
    json_columns = set()
    for table, clause in conn.exec_driver_sql(
            "SELECT TABLE_NAME, CHECK_CLAUSE FROM information_schema.CHECK_CONSTRAINTS "
            "WHERE CONSTRAINT_SCHEMA = DATABASE()").all():
        match = _JSON_VALID.fullmatch(str(clause).strip())
        if match is not None:
            json_columns.add((table, match.group(1).replace("``", "`")))
    out = {}
    for table, column, data_type, length, precision, scale, default, extra, ctype in rows:
        is_json = (table, column) in json_columns
        out[(table, column)] = _Cat(
            "json" if is_json else str(data_type).lower(), _int_or_none(length),
            _int_or_none(precision), _int_or_none(scale), default,
            auto="auto_increment" in str(extra).lower(), json=is_json,
            boolean=str(ctype).lower().startswith("tinyint(1)"),
            uuid=str(data_type).lower() == "uuid")
    return out


_CATALOGS = {"sqlite": _sqlite_catalog, "postgresql": _postgresql_catalog,
             "mysql": _mysql_catalog}


# SQLite reads any declared type by affinity (POINT has "INT" in it: an integer); only
# these names are taken for what they say, anything else is `unknown`
_SQLITE_NAMES = frozenset({
    "int", "integer", "smallint", "tinyint", "mediumint", "bigint", "int2", "int8",
    "varchar", "character varying", "char", "character", "nvarchar", "nchar", "text",
    "clob", "real", "float", "double", "double precision", "numeric", "decimal",
    "boolean", "bool", "date", "datetime", "timestamp", "time", "json", "uuid", "blob",
})


def _field_type(t: Any, cat: _Cat, dialect: str) -> str:
    if dialect == "sqlite" and cat.data_type not in _SQLITE_NAMES:
        return "unknown"
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
        if dialect == "postgresql":
            return "timestamp" if t.timezone else "dateTime"
        return "timestamp" if isinstance(t, sa.TIMESTAMP) else "dateTime"
    if isinstance(t, sa.Date):
        return "date"
    if isinstance(t, sa.Time):
        return "time"
    if isinstance(t, sa.Text):
        return "text"
    if isinstance(t, sa.String):
        return "text" if getattr(t, "length", None) is None and dialect != "sqlite" \
            else "string"
    if isinstance(t, (sa.LargeBinary, sa.types._Binary)):
        return "binary"
    return "unknown"


_QUOTED = re.compile(r"^'((?:[^']|'')*)'$", re.S)
_CAST = re.compile(r"^(.*?)::[A-Za-z_ ]+(?:\(\d+(?:,\d+)?\))?(?:\[\])?$", re.S)
_NUMBER = re.compile(r"^-?\d+(\.\d+)?([eE][-+]?\d+)?$")


def _default_value(raw: str | None, ftype: str, dialect: str) -> Any:
    """A reflected default as a JSON value: literals unquoted and typed, expressions
    (``CURRENT_TIMESTAMP``, ``nextval(...)``) as their text."""
    if raw is None:
        return None
    text = str(raw).strip()
    if dialect == "mysql" and text.upper() == "NULL":
        return None
    if dialect == "postgresql":
        while text.startswith("(") and text.endswith(")"):
            text = text[1:-1].strip()
        m = _CAST.match(text)
        if m is not None and not text.startswith("nextval("):
            text = m.group(1).strip()
            while text.startswith("(") and text.endswith(")"):
                text = text[1:-1].strip()
        if text.upper() == "NULL":
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
    if dialect == "mysql" and not quoted and ftype not in (
            "integer", "bigInteger", "float", "decimal", "boolean"):
        # MariaDB quotes literals in information_schema; an unquoted default is an
        # expression (current_timestamp())
        return value
    return value


_INTERNAL = ("dbplane_", "_alembic_tmp_")
"""Tables that are dbplane's own bookkeeping inside a database (the routines' ledger
``dbplane_migrations``), or a batch rebuild's scratch table: never in a snapshot, so never
dropped by an apply."""


_EXPRESSION_INDEX = r".*(expression-based index|index .* expression)"
"""SQLAlchemy's warning for an index it does not reflect (expressions): not represented."""


def _read(conn: Connection, dialect: str) -> LiveSchema:
    insp = sa.inspect(conn)
    cat = _CATALOGS[dialect](conn)
    names = sorted(n for n in insp.get_table_names() if not n.startswith(_INTERNAL))
    if not names:
        return LiveSchema([], [], [])
    kind = sa.engine.reflection.ObjectKind.TABLE
    columns = insp.get_multi_columns(kind=kind)
    pks = insp.get_multi_pk_constraint(kind=kind)
    fks = insp.get_multi_foreign_keys(kind=kind)
    with warnings.catch_warnings():  # they are left out of the snapshot on purpose
        warnings.filterwarnings("ignore", _EXPRESSION_INDEX, sa.exc.SAWarning)
        indexes = insp.get_multi_indexes(kind=kind)
        uniques = insp.get_multi_unique_constraints(kind=kind)
    try:
        checks = insp.get_multi_check_constraints(kind=kind)
    except NotImplementedError:  # pragma: no cover
        checks = {}
    live = LiveSchema([], [], [])
    for table in names:
        key = (None, table)
        pk: dict[str, Any] = dict(pks.get(key) or {})
        pk_cols = list(pk.get("constrained_columns") or [])
        live.pk_names[table] = pk.get("name")
        table_fks = [fk for fk in fks.get(key, []) if fk.get("referred_table")]
        fk_names = {fk["name"] for fk in table_fks if fk.get("name")}
        idx_all: dict[IndexSpec, tuple[str, str]] = {}
        for uq in uniques.get(key, []):
            cols: tuple[str, ...] = tuple(c for c in uq["column_names"] if c is not None)
            spec = IndexSpec(cols, True)
            uq_name = uq.get("name") or f"uq_{table}_{'_'.join(cols)}"
            idx_all.setdefault(spec, (uq_name, "constraint"))
        for ix in indexes.get(key, []):
            cols_raw = ix.get("column_names") or []
            where = {k: v for k, v in (ix.get("dialect_options") or {}).items()
                     if k.endswith("_where") and v is not None}
            if not cols_raw or any(c is None for c in cols_raw) or where:
                continue  # expression or partial index: not representable
            cols = tuple(c for c in cols_raw if c is not None)
            unique = bool(ix.get("unique"))
            ix_name = str(ix["name"])
            if dialect == "mysql" and not unique and ix_name in fk_names:
                live.fk_index_names.setdefault(table, set()).add(ix_name)
                continue
            if ix.get("duplicates_constraint"):
                continue
            idx_all.setdefault(IndexSpec(cols, unique), (ix_name, "index"))
        if tuple(pk_cols) and IndexSpec(tuple(pk_cols), True) in idx_all:
            idx_all.pop(IndexSpec(tuple(pk_cols), True))
        for spec, named in idx_all.items():
            live.index_names[(table, spec)] = named
        multi = [{"columns": list(s.columns), "unique": s.unique}
                 for s in idx_all if len(s.columns) > 1]
        single_unique = {s.columns[0] for s in idx_all if len(s.columns) == 1 and s.unique}
        single_index = {s.columns[0] for s in idx_all if len(s.columns) == 1 and not s.unique}
        table_checks = []
        for n, chk in enumerate(checks.get(key, [])):
            sqltext = str(chk.get("sqltext", "")).strip()
            if _JSON_VALID.fullmatch(sqltext):
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
        for col in columns.get(key, []):
            name = col["name"]
            c = cat.get((table, name), _Cat(""))
            ftype = _field_type(col["type"], c, dialect)
            if dialect == "sqlite" and c.declared and \
                    c.data_type.upper() not in sqlite_ischema_names:
                live.declared.setdefault(table, {})[name] = (
                    c.declared, bool(col.get("nullable", True)), col.get("default"),
                    name in pk_cols)
            is_pk = name in pk_cols
            auto = c.auto and is_pk
            fk = single_fk.get(name)
            computed = col.get("computed")
            is_string = ftype in ("string",)
            live.fields.append({
                "collection": table, "field": name, "type": ftype, "meta": None,
                "schema": {
                    "name": name, "table": table, "data_type": c.data_type or None,
                    "default_value": None if computed else _default_value(
                        c.default if c.default is not None else col.get("default"),
                        ftype, dialect),
                    "max_length": c.max_length if is_string or dialect != "sqlite"
                    else None,
                    "numeric_precision": c.precision, "numeric_scale": c.scale,
                    "is_nullable": bool(col.get("nullable", True)),
                    "is_unique": name in single_unique or (is_pk and len(pk_cols) == 1),
                    "is_indexed": name in single_index,
                    "is_primary_key": is_pk,
                    "is_generated": computed is not None,
                    "generation_expression": str(computed["sqltext"]) if computed else None,
                    "has_auto_increment": auto,
                    "foreign_key_table": fk["referred_table"] if fk else None,
                    "foreign_key_column": fk["referred_columns"][0] if fk else None,
                }})
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
    return live


def _read_sqlite_file(path: Path) -> LiveSchema:
    # reflection asks SQLite a few PRAGMAs per table: on the async pool each is a thread
    # hop (300 tables: ~1.7 s); on a plain connection in one worker thread, ~0.4 s
    uri = path.absolute().as_uri() + "?mode=ro"
    engine = sa.create_engine("sqlite://", poolclass=sa.pool.NullPool,
                              creator=lambda: sqlite3.connect(uri, uri=True,
                                                              check_same_thread=False))
    try:
        with engine.connect() as conn:
            return _read(conn, "sqlite")
    finally:
        engine.dispose()


def _unreachable(engine: SqlEngine, exc: BaseException) -> Unavailable | None:
    """503 for a database that cannot be reached (host, port, credentials, a database
    dropped behind dbplane's back), as the engine reads its driver's errors."""
    if isinstance(exc, sa.exc.DBAPIError) and exc.connection_invalidated:
        return Unavailable("the connection to the database was lost; retry")
    known = network_error(exc, engine.url) or engine.connect_error(exc)
    if known is None:
        return None
    return Unavailable(f"the database does not answer: {known.detail}")


async def read_schema(engine: SqlEngine) -> LiveSchema:
    """The database's tables, columns, keys, indexes, checks and foreign keys.
    Unavailable (503) when the database does not answer."""
    path = getattr(engine, "path", None)
    try:
        if engine.type_name == "sqlite" and isinstance(path, Path) and path.is_file():
            return await asyncio.to_thread(_read_sqlite_file, path)
        async with engine.sa_engine.connect() as conn:
            return await conn.run_sync(_read, engine.type_name)
    except Exception as exc:
        down = _unreachable(engine, exc)
        if down is None:
            raise
        raise down from exc


# -- applying ---------------------------------------------------------------------------


def _sa_type(t: ColumnType, dialect: str) -> Any:
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
        return sa.DateTime(timezone=True) if dialect == "postgresql" else sa.TIMESTAMP()
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


_EXPRESSIONS = {"CURRENT_TIMESTAMP", "CURRENT_DATE", "CURRENT_TIME", "NOW()",
                "CURRENT_TIMESTAMP()", "GEN_RANDOM_UUID()", "UUID()"}


def _server_default(col: ColumnSpec, dialect: str) -> Any:
    value = col.default
    if value is None or col.auto_increment:
        return None
    if isinstance(value, bool):
        return sa.text(("true" if value else "false") if dialect == "postgresql"
                       else ("1" if value else "0"))
    if isinstance(value, int | float):
        return sa.text(repr(value)) if dialect != "mysql" else sa.text(f"{value!r}")
    text = str(value)
    if text.upper() in _EXPRESSIONS:
        return sa.text(text)
    return text  # a literal: SQLAlchemy quotes it


def _column(col: ColumnSpec, dialect: str, pk: tuple[str, ...]) -> sa.Column[Any]:
    auto = col.auto_increment and pk == (col.name,)
    ctype = _sa_type(col.type, dialect)
    if auto and dialect == "sqlite":
        ctype = sa.Integer()  # only INTEGER PRIMARY KEY is the rowid
    return sa.Column(col.name, ctype, nullable=col.nullable,
                     server_default=_server_default(col, dialect),
                     primary_key=col.name in pk, autoincrement=auto if pk else False)


def _pg_quote(name: str) -> str:
    """An identifier quoted for PostgreSQL (it stores defaults in its own spelling)."""
    return '"' + name.replace('"', '""') + '"'


def _index_name(table: str, idx: IndexSpec) -> str:
    return constraint_name(table, idx.columns, "unique" if idx.unique else "index")


@dataclass
class _Runner:
    """Runs changes through one Operations object."""

    ops: Operations
    dialect: str
    live: LiveSchema | None
    targets: dict[str, set[IndexSpec]]
    created: set[str] = field(default_factory=set)
    dropped: set[str] = field(default_factory=set)

    def run(self, change: Change) -> None:
        getattr(self, f"_{type(change).__name__}")(change)

    def _names(self, table: str, idx: IndexSpec) -> tuple[str, str]:
        if self.live is not None and (table, idx) in self.live.index_names:
            return self.live.index_names[(table, idx)]
        return (_index_name(table, idx), "index")

    def _DropRelation(self, c: DropRelation) -> None:
        name = c.relation.name
        if self.dialect == "sqlite":
            if c.table in self.dropped:
                return  # the table goes, and its foreign keys with it
            live = next((r for r in (self.live.relations if self.live else [])
                         if r["collection"] == c.table
                         and r["field"] == c.relation.columns[0]), None)
            if live is not None and live["schema"]["constraint_name"] is None:
                name = f"fk_{c.table}_{c.relation.columns[0]}_{c.relation.ref_table}"
        self.ops.drop_constraint(name, c.table, type_="foreignkey")
        if self.dialect == "mysql" and self.live is not None and name in \
                self.live.fk_index_names.get(c.table, set()) and IndexSpec(
                    c.relation.columns, False) not in self.targets.get(c.table, set()):
            self.ops.drop_index(name, table_name=c.table)

    def _DropCheck(self, c: DropCheck) -> None:
        self.ops.drop_constraint(c.name, c.table, type_="check")

    def _DropIndex(self, c: DropIndex) -> None:
        name, kind = self._names(c.table, c.index)
        if kind == "constraint" and self.dialect != "mysql":
            self.ops.drop_constraint(name, c.table, type_="unique")
        else:
            self.ops.drop_index(name, table_name=c.table)

    def _DropTable(self, c: DropTable) -> None:
        self.ops.drop_table(c.table)

    def _CreateTable(self, c: CreateTable) -> None:
        spec = c.spec
        items: list[Any] = [_column(col, self.dialect, spec.primary_key)
                            for col in spec.columns.values()]
        if self.dialect == "sqlite":
            items.extend(_fk(rel) for rel in spec.relations.values())
            items.extend(sa.CheckConstraint(sa.text(expr), name=name)
                         for name, expr in spec.checks.items())
        self.ops.create_table(c.table, *items)

    def _AddColumn(self, c: AddColumn) -> None:
        self.ops.add_column(c.table, _column(c.column, self.dialect, ()))

    def _AlterColumn(self, c: AlterColumn) -> None:
        before, after = c.before, c.after
        kw: dict[str, Any] = {
            "existing_type": _sa_type(before.type, self.dialect),
            "existing_nullable": before.nullable,
            "existing_server_default": _server_default(before, self.dialect),
        }
        if self.dialect == "mysql":
            kw["existing_autoincrement"] = before.auto_increment
            if before.auto_increment != after.auto_increment:
                kw["autoincrement"] = after.auto_increment  # MODIFY ... [AUTO_INCREMENT]
        if before.type != after.type:
            kw["type_"] = _sa_type(after.type, self.dialect)
        if before.nullable != after.nullable:
            kw["nullable"] = after.nullable
        if before.default != after.default:
            kw["server_default"] = _server_default(after, self.dialect)
        if self.dialect == "postgresql" and after.auto_increment and \
                not before.auto_increment:
            kw["server_default"] = self._pg_serial(c.table, after.name)
        self.ops.alter_column(c.table, after.name, **kw)

    def _pg_serial(self, table: str, column: str) -> Any:
        """An existing column made auto-increment on PostgreSQL, as SERIAL makes it: a
        sequence owned by the column, past the largest value, as its default."""
        seq = sa.Sequence(f"{table}_{column}_seq")
        self.ops.execute(sa.schema.CreateSequence(seq, if_not_exists=True))
        self.ops.execute(sa.text(f"ALTER SEQUENCE {_pg_quote(seq.name)} OWNED BY "
                                 f"{_pg_quote(table)}.{_pg_quote(column)}"))
        regclass = _pg_quote(seq.name)
        col: sa.ColumnClause[Any] = sa.column(column)
        self.ops.execute(sa.select(sa.func.setval(
            regclass, sa.func.coalesce(sa.func.max(col), 0) + 1, False)).select_from(
                sa.table(table, col)))
        return sa.text(f"nextval('{regclass.replace(chr(39), chr(39) * 2)}'::regclass)")

    def _SetPrimaryKey(self, c: SetPrimaryKey) -> None:
        if c.before:
            name = (self.live.pk_names.get(c.table) if self.live else None) or \
                f"{c.table}_pkey"
            self.ops.drop_constraint(name, c.table, type_="primary")
        if c.after:
            self.ops.create_primary_key(f"{c.table}_pkey", c.table, list(c.after))

    def _DropColumn(self, c: DropColumn) -> None:
        self.ops.drop_column(c.table, c.column)

    def _CreateIndex(self, c: CreateIndex) -> None:
        self.ops.create_index(_index_name(c.table, c.index), c.table, list(c.index.columns),
                              unique=c.index.unique)

    def _CreateCheck(self, c: CreateCheck) -> None:
        if self.dialect == "sqlite" and c.table in self.created:
            return  # made with the table
        self.ops.create_check_constraint(c.name, c.table, sa.text(c.expression))

    def _CreateRelation(self, c: CreateRelation) -> None:
        r = c.relation
        if self.dialect == "sqlite" and c.table in self.created:
            return  # made with the table
        self.ops.create_foreign_key(r.name, c.table, r.ref_table, list(r.columns),
                                    list(r.ref_columns), onupdate=_action(r.on_update),
                                    ondelete=_action(r.on_delete))


def _action(value: str) -> str | None:
    return None if value == "NO ACTION" else value


def _fk(rel: Any) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(list(rel.columns),
                                   [f"{rel.ref_table}.{c}" for c in rel.ref_columns],
                                   name=rel.name, onupdate=_action(rel.on_update),
                                   ondelete=_action(rel.on_delete))


_SQLITE_NAMING = {
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
}


class _Declared(sa.types.UserDefinedType[Any]):
    """A column type SQLAlchemy does not know, declared again as SQLite has it (read from
    the database's own catalog, never from a request)."""

    cache_ok = True

    def __init__(self, declared: str) -> None:
        self.declared = declared

    def get_col_spec(self, **_kw: Any) -> str:
        return self.declared


class _SqliteOps:
    """Operations for SQLite: the changes to an existing table go through one batch (Alembic
    copies the table, its rows and its indexes, once per table)."""

    def __init__(self, ops: Operations,
                 declared: dict[str, dict[str, tuple[str, bool, str | None, bool]]]) -> None:
        self._ops = ops
        self._declared = declared
        self._open: tuple[str, Any] | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._ops, name)

    @contextmanager
    def table(self, table: str) -> Iterator[None]:
        """One batch for the changes to ``table`` made inside the block."""
        with self._rebuild(table) as batch:
            self._open = (table, batch)
            try:
                yield
            finally:
                self._open = None

    @contextmanager
    def _batch(self, table: str) -> Iterator[Any]:
        if self._open is not None and self._open[0] == table:
            yield self._open[1]
            return
        with self._rebuild(table) as batch:
            yield batch

    @contextmanager
    def _rebuild(self, table: str) -> Iterator[Any]:
        keep = tuple(
            sa.Column(name, _Declared(declared), nullable=nullable, primary_key=pk,
                      server_default=sa.text(default) if default is not None else None)
            for name, (declared, nullable, default, pk) in self._declared.get(
                table, {}).items())
        # a new primary key: SQLAlchemy warns that the copied columns' primary_key flags
        # differ from it, and takes the new key, which is what is asked
        # SQLite's own procedure for a rebuild (sqlite.org/lang_altertable.html): the
        # triggers and the expression indexes (reflection skips them, so the batch does
        # not copy them) go with the old table and are made again from the database's own
        # text (sqlite_master); the views that name the table are left as they are
        # (legacy_alter_table: the final RENAME neither checks nor rewrites them)
        bind = self._ops.get_bind()
        own = bind.execute(sa.text(
            "SELECT type, name, sql FROM sqlite_master WHERE type IN ('index', 'trigger') "
            "AND tbl_name = :t AND sql IS NOT NULL ORDER BY type"), {"t": table}).all()
        bind.exec_driver_sql("PRAGMA legacy_alter_table=ON")
        try:
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", r".*specifies columns .* as "
                                        r"primary_key=True", sa.exc.SAWarning)
                warnings.filterwarnings("ignore", _EXPRESSION_INDEX, sa.exc.SAWarning)
                with self._ops.batch_alter_table(table, recreate="always",
                                                 reflect_args=keep,
                                                 naming_convention=_SQLITE_NAMING) as batch:
                    yield batch
        finally:
            bind.exec_driver_sql("PRAGMA legacy_alter_table=OFF")
        kept = set(bind.execute(sa.text(
            "SELECT name FROM sqlite_master WHERE tbl_name = :t"), {"t": table}).scalars())
        for _kind, name, sql in own:
            if name not in kept:
                bind.exec_driver_sql(sql)

    def drop_constraint(self, name: str, table: str, type_: str) -> None:
        if type_ == "primary":
            return  # the batch's create_primary_key replaces it
        with self._batch(table) as b:
            b.drop_constraint(name, type_=type_)

    def add_column(self, table: str, column: sa.Column[Any]) -> None:
        with self._batch(table) as b:
            b.add_column(column)

    def alter_column(self, table: str, column: str, **kw: Any) -> None:
        kw.pop("existing_autoincrement", None)
        with self._batch(table) as b:
            b.alter_column(column, **kw)

    def drop_column(self, table: str, column: str) -> None:
        with self._batch(table) as b:
            b.drop_column(column)

    def create_primary_key(self, name: str, table: str, columns: list[str]) -> None:
        with self._batch(table) as b:
            b.create_primary_key(name, columns)

    def create_check_constraint(self, name: str, table: str, expr: Any) -> None:
        with self._batch(table) as b:
            b.create_check_constraint(name, expr)

    def create_foreign_key(self, name: str, table: str, ref: str, cols: list[str],
                           ref_cols: list[str], **kw: Any) -> None:
        with self._batch(table) as b:
            b.create_foreign_key(name, ref, cols, ref_cols, **kw)


def _operations(conn: Connection | None, dialect: str, *,
                buffer: io.StringIO | None = None) -> Operations:
    if conn is not None:
        ctx = MigrationContext.configure(connection=conn)
    else:
        ctx = MigrationContext.configure(dialect_name=dialect,
                                         opts={"as_sql": True, "output_buffer": buffer,
                                               "literal_binds": True})
    return Operations(ctx)


def _targets(changes: list[Change]) -> dict[str, set[IndexSpec]]:
    out: dict[str, set[IndexSpec]] = {}
    for c in changes:
        if isinstance(c, CreateIndex):
            out.setdefault(c.table, set()).add(c.index)
    return out


def _runner(ops: Any, dialect: str, live: LiveSchema | None,
            changes: list[Change]) -> _Runner:
    return _Runner(ops, dialect, live, _targets(changes),
                   created={c.table for c in changes if isinstance(c, CreateTable)},
                   dropped={c.table for c in changes if isinstance(c, DropTable)})


def _first_line(exc: BaseException) -> str:
    for cur in exception_chain(exc):
        orig = getattr(cur, "orig", None)
        if orig is not None:
            args: tuple[Any, ...] = getattr(orig, "args", ())
            if len(args) == 2 and isinstance(args[0], int) and isinstance(args[1], str):
                return f"{args[1]} ({args[0]})"  # MariaDB's (errno, message)
            text = str(orig).strip().splitlines()
            return text[0] if text else type(orig).__name__
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


_BATCHED = (DropRelation, DropCheck, AddColumn, AlterColumn, SetPrimaryKey, DropColumn,
            CreateCheck, CreateRelation)


def _units(changes: list[Change], dialect: str) -> list[list[Change]]:
    """The changes in the order they run, in units that succeed or fail together: one
    change each, except SQLite's rebuilds: every change to one existing table in one
    batch, after the index drops and the new tables, before the tables dropped and the
    new indexes."""
    if dialect != "sqlite":
        return [[c] for c in changes]
    created = {c.table for c in changes if isinstance(c, CreateTable)}
    dropped = {c.table for c in changes if isinstance(c, DropTable)}
    first: list[list[Change]] = []
    batches: dict[str, list[Change]] = {}
    new_tables: list[list[Change]] = []
    gone_tables: list[list[Change]] = []
    last: list[list[Change]] = []
    for c in changes:
        if isinstance(c, _BATCHED) and c.table not in created | dropped:
            batches.setdefault(c.table, []).append(c)
        elif isinstance(c, CreateIndex):
            last.append([c])
        elif isinstance(c, DropRelation | CreateRelation | CreateCheck | DropCheck):
            continue  # goes with its table (dropped, or created with its keys and checks)
        elif isinstance(c, CreateTable):
            new_tables.append([c])
        elif isinstance(c, DropTable):
            gone_tables.append([c])
        else:
            first.append([c])
    # a rebuild reads the tables its foreign keys name: the new ones are made before it,
    # and the ones that go are dropped after it (it drops the foreign keys to them)
    return [*first, *new_tables, *batches.values(), *gone_tables, *last]


def _run_all(conn: Connection, dialect: str, changes: list[Change], live: LiveSchema,
             done: list[str], failing: list[str]) -> None:
    ops: Any = _operations(conn, dialect)
    sqlite_ops = _SqliteOps(ops, live.declared) if dialect == "sqlite" else None
    runner = _runner(sqlite_ops or ops, dialect, live, changes)
    for unit in _units(changes, dialect):
        failing[:] = [c.describe() for c in unit]
        if len(unit) > 1 and sqlite_ops is not None:
            with sqlite_ops.table(unit[0].table):
                for change in unit:
                    runner.run(change)
        else:
            runner.run(unit[0])
        done.extend(failing)
    failing.clear()


def _sqlite_apply(conn: Connection, lock: DatabaseLock, changes: list[Change],
                  live: LiveSchema, done: list[str], failing: list[str]) -> None:
    # foreign keys off for the rebuilds (a table is dropped and renamed), checked once
    # before the commit; PRAGMA foreign_keys cannot change inside a transaction
    conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
    try:
        lock.acquire(conn, LOCK_WAIT)  # BEGIN IMMEDIATE: the file's write lock, to the commit
        try:
            _unchanged(conn, "sqlite", live)
            _run_all(conn, "sqlite", changes, live, done, failing)
            broken = conn.exec_driver_sql("PRAGMA foreign_key_check").all()
            if broken:
                raise _ForeignKeysBroken(f"rows of {broken[0][0]!r} refer to rows of "
                                         f"{broken[0][2]!r} that do not exist")
        except BaseException:
            conn.exec_driver_sql("ROLLBACK")
            raise
        conn.exec_driver_sql("COMMIT")
    finally:
        conn.exec_driver_sql("PRAGMA foreign_keys=ON")


# -- the lock ---------------------------------------------------------------------------
#
# An apply holds the database's own lock from before it reads the schema again to the end,
# so applies from several dbplane processes (replicas) sharing a database run one after
# the other, and one that waited finds the schema changed (StaleSchemaHash) instead of
# running a plan made for the old one. The lock is the one the routines' migration runs
# take (engines/routines.py), so a migration run and a schema apply exclude each other too.

LOCK_WAIT = 30.0
"""Seconds an apply waits for another apply (or migration run) to release the lock."""

def _unchanged(conn: Connection, dialect: str, live: LiveSchema) -> None:
    """Under the lock: the schema is still the one the plan (and the hash) was made
    from, or StaleSchemaHash."""
    if _read(conn, dialect) != live:
        raise StaleSchemaHash("the schema changed while this apply waited for another one "
                              "to finish (its hash is not the current one): diff again, "
                              "then apply; nothing was applied")


def _locked_run(conn: Connection, dialect: str, lock: DatabaseLock, changes: list[Change],
                live: LiveSchema, done: list[str], failing: list[str]) -> None:
    """PostgreSQL (in the caller's transaction) and MariaDB: lock, check, run."""
    lock.acquire(conn, LOCK_WAIT)
    try:
        _unchanged(conn, dialect, live)
        _run_all(conn, dialect, changes, live, done, failing)
    finally:
        lock.release(conn)


class _ForeignKeysBroken(Exception):
    pass


async def apply_plan(engine: SqlEngine, changes: list[Change], live: LiveSchema) -> None:
    """Run the changes: all or nothing on SQLite and PostgreSQL; in order, stopping at the
    first failure, on MariaDB. SchemaApplyFailed says which change failed and why, and
    (MariaDB) which ones were applied before it."""
    if not changes:
        return
    dialect = engine.type_name
    lock = lock_of(engine)
    done: list[str] = []
    failing: list[str] = []
    try:
        if dialect == "sqlite":
            async with engine.sa_engine.connect() as conn:
                await conn.run_sync(_sqlite_apply, lock, changes, live, done, failing)
        elif dialect == "postgresql":
            async with engine.sa_engine.begin() as conn:
                await conn.run_sync(_locked_run, dialect, lock, changes, live, done,
                                    failing)
        else:
            async with engine.sa_engine.connect() as conn:
                await conn.run_sync(_locked_run, dialect, lock, changes, live, done,
                                    failing)
    except LockBusy as exc:
        raise SchemaApplyFailed(
            f"another schema apply or migration run has held this database's lock ({exc}) "
            f"for more than {LOCK_WAIT:g} s; nothing was applied: try again",
            failed=None, reason="locked", applied=[],
            not_applied=[c.describe() for c in changes]) from exc
    except (sa.exc.DBAPIError, _ForeignKeysBroken, OSError) as exc:
        down = _unreachable(engine, exc)
        if down is not None:
            down.fields.update(applied=list(done) if dialect == "mysql" else [])
            raise down from exc
        if isinstance(exc, OSError):
            raise
        # a SQLite rebuild fails as a whole: `failing` then names every change in it
        failed = "; ".join(failing) or "the foreign key check before the commit"
        ordered = [c.describe() for unit in _units(changes, dialect) for c in unit]
        rest = ordered[len(done) + len(failing):]
        reason = str(exc) if isinstance(exc, _ForeignKeysBroken) else _first_line(exc)
        if dialect == "mysql":
            applied = done
            detail = (f"the database refused {failed!r}: {reason}; MariaDB commits each "
                      f"change: applied before it: {'; '.join(done) or 'nothing'}; not "
                      f"applied: {'; '.join(failing + rest)}")
        else:
            applied = []
            detail = (f"the database refused {failed!r}: {reason}; nothing was applied "
                      "(the apply is one transaction)")
        not_applied = ([] if dialect == "mysql" else done) + failing + rest
        raise SchemaApplyFailed(detail, failed=failed, reason=reason, applied=applied,
                                not_applied=not_applied) from exc


def _sqlite_dry_run(conn: Connection, changes: list[Change], live: LiveSchema) -> list[str]:
    statements: list[str] = []

    def capture(_c: Any, _cur: Any, statement: str, _params: Any, _ctx: Any,
                _many: Any) -> None:
        if not statement.lstrip().upper().startswith(("PRAGMA", "SELECT")):
            statements.append(statement.strip())

    conn.exec_driver_sql("BEGIN")
    event.listen(conn, "before_cursor_execute", capture)
    try:
        _run_all(conn, "sqlite", changes, live, [], [])
    finally:
        event.remove(conn, "before_cursor_execute", capture)
        conn.exec_driver_sql("ROLLBACK")
    return statements


async def render_sql(engine: SqlEngine, changes: list[Change], live: LiveSchema) -> str:
    """The SQL the apply would run, one statement per line block; changes nothing.
    SQLite's rebuilds need the live table, so they run in a transaction rolled back."""
    dialect = engine.type_name
    if not changes:
        return ""
    if dialect == "sqlite":
        async with engine.sa_engine.connect() as conn:
            statements = await conn.run_sync(_sqlite_dry_run, changes, live)
        return "".join(f"{s};\n\n" for s in statements)
    buffer = io.StringIO()
    ops = _operations(None, dialect, buffer=buffer)
    runner = _runner(ops, dialect, live, changes)
    for change in changes:
        runner.run(change)
    return buffer.getvalue()
