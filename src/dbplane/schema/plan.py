"""The plan: the ordered schema changes that turn one snapshot's tables into another's.

Computed from the two snapshots (never from diff entries alone), in an order every
engine can run: drop foreign keys, checks and indexes, drop tables, create tables, change
columns and primary keys, then create indexes, checks and foreign keys. Each change is
plain data; the engine turns it into Alembic operations.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from dbplane.errors import DiffNotApplicable, UnsupportedFieldType
from dbplane.schema.types import COLUMN_TYPES, STORED_AS, ColumnType, column_type

MAKEABLE = COLUMN_TYPES - STORED_AS.keys()

__all__ = [
    "AddColumn",
    "AlterColumn",
    "Change",
    "ColumnSpec",
    "CreateCheck",
    "CreateIndex",
    "CreateRelation",
    "CreateTable",
    "DropCheck",
    "DropColumn",
    "DropIndex",
    "DropRelation",
    "DropTable",
    "IndexSpec",
    "RelationSpec",
    "SetPrimaryKey",
    "TableSpec",
    "constraint_name",
    "plan",
    "table_specs",
]

MAX_NAME = 60


def constraint_name(table: str, columns: tuple[str, ...] | list[str], suffix: str) -> str:
    """Directus' naming (``articles_author_foreign``, ``authors_email_unique``), cut with a
    digest when longer than every engine allows."""
    name = f"{table}_{'_'.join(columns)}_{suffix}"
    if len(name) <= MAX_NAME:
        return name
    digest = hashlib.sha1(name.encode(), usedforsecurity=False).hexdigest()[:8]
    return f"{name[:MAX_NAME - 10 - len(suffix)]}_{digest}_{suffix}"


@dataclass(frozen=True)
class ColumnSpec:
    name: str
    type: ColumnType
    nullable: bool = True
    default: Any = None
    auto_increment: bool = False


@dataclass(frozen=True)
class IndexSpec:
    columns: tuple[str, ...]
    unique: bool


@dataclass(frozen=True)
class RelationSpec:
    name: str
    columns: tuple[str, ...]
    ref_table: str
    ref_columns: tuple[str, ...]
    on_update: str
    on_delete: str


@dataclass
class TableSpec:
    name: str
    columns: dict[str, ColumnSpec] = field(default_factory=dict)
    primary_key: tuple[str, ...] = ()
    indexes: set[IndexSpec] = field(default_factory=set)
    checks: dict[str, str] = field(default_factory=dict)
    relations: dict[tuple[str, ...], RelationSpec] = field(default_factory=dict)


# -- changes ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    table: str

    destructive = False

    def describe(self) -> str:
        raise NotImplementedError


@dataclass(frozen=True)
class DropRelation(Change):
    relation: RelationSpec

    def describe(self) -> str:
        return f"drop foreign key {self.relation.name} of {self.table}"


@dataclass(frozen=True)
class DropCheck(Change):
    name: str

    def describe(self) -> str:
        return f"drop check {self.name} of {self.table}"


@dataclass(frozen=True)
class DropIndex(Change):
    index: IndexSpec

    def describe(self) -> str:
        kind = "unique index" if self.index.unique else "index"
        return f"drop {kind} on {self.table}({', '.join(self.index.columns)})"


@dataclass(frozen=True)
class DropTable(Change):
    destructive = True

    def describe(self) -> str:
        return f"drop table {self.table}"


@dataclass(frozen=True)
class CreateTable(Change):
    spec: TableSpec = field(compare=False)

    def describe(self) -> str:
        return f"create table {self.table} ({', '.join(self.spec.columns)})"


@dataclass(frozen=True)
class AddColumn(Change):
    column: ColumnSpec

    def describe(self) -> str:
        return f"add column {self.table}.{self.column.name} ({self.column.type.kind})"


@dataclass(frozen=True)
class AlterColumn(Change):
    before: ColumnSpec
    after: ColumnSpec

    @property
    def destructive(self) -> bool:  # type: ignore[override]
        return self.before.type != self.after.type

    def describe(self) -> str:
        parts = []
        if self.before.type != self.after.type:
            parts.append(f"type {_type_text(self.before.type)} -> "
                         f"{_type_text(self.after.type)}")
        if self.before.nullable != self.after.nullable:
            parts.append("nullable" if self.after.nullable else "not null")
        if self.before.default != self.after.default:
            parts.append(f"default {self.after.default!r}")
        return f"alter column {self.table}.{self.after.name}: {', '.join(parts)}"


@dataclass(frozen=True)
class SetPrimaryKey(Change):
    before: tuple[str, ...]
    after: tuple[str, ...]

    def describe(self) -> str:
        return f"primary key of {self.table}: ({', '.join(self.after)})"


@dataclass(frozen=True)
class DropColumn(Change):
    column: str
    destructive = True

    def describe(self) -> str:
        return f"drop column {self.table}.{self.column}"


@dataclass(frozen=True)
class CreateIndex(Change):
    index: IndexSpec

    def describe(self) -> str:
        kind = "unique index" if self.index.unique else "index"
        return f"create {kind} on {self.table}({', '.join(self.index.columns)})"


@dataclass(frozen=True)
class CreateCheck(Change):
    name: str
    expression: str

    def describe(self) -> str:
        return f"add check {self.name} on {self.table}: {self.expression}"


@dataclass(frozen=True)
class CreateRelation(Change):
    relation: RelationSpec

    def describe(self) -> str:
        r = self.relation
        return (f"add foreign key {r.name}: {self.table}({', '.join(r.columns)}) -> "
                f"{r.ref_table}({', '.join(r.ref_columns)}) on delete {r.on_delete}")


def _type_text(t: ColumnType) -> str:
    if t.length is not None:
        return f"{t.kind}({t.length})"
    if t.precision is not None:
        return f"{t.kind}({t.precision},{t.scale})"
    return t.kind


# -- snapshot → table specs --------------------------------------------------------------


def table_specs(snapshot: dict[str, Any]) -> dict[str, TableSpec]:
    """The tables a snapshot describes (collections with a ``schema``)."""
    tables: dict[str, TableSpec] = {}
    for c in snapshot["collections"]:
        if c["schema"] is None:
            continue
        spec = TableSpec(c["collection"])
        for idx in c["schema"].get("indexes", []):
            spec.indexes.add(IndexSpec(tuple(idx["columns"]), idx["unique"]))
        spec.checks = {chk["name"]: _expression(spec.name, chk["name"], chk["expression"])
                       for chk in c["schema"].get("checks", [])}
        tables[spec.name] = spec
    pks: dict[str, list[str]] = {}
    for f in sorted(snapshot["fields"], key=_field_order):
        s = f["schema"]
        if s is None or f["type"] == "alias":
            continue
        spec_or_none = tables.get(f["collection"])
        where = f"{f['collection']}.{f['field']}"
        if spec_or_none is None:
            raise DiffNotApplicable(f"the field {where} belongs to no table",
                                    collection=f["collection"])
        # a type dbplane cannot make (a column read as `unknown`) is kept as it is; the
        # plan refuses it only when it must create or change such a column
        ctype = column_type(f["type"], s) or ColumnType(
            f["type"], length=s["max_length"], precision=s["numeric_precision"],
            scale=s["numeric_scale"])
        spec = spec_or_none
        spec.columns[f["field"]] = ColumnSpec(
            name=f["field"], type=ctype, nullable=bool(s["is_nullable"]),
            default=None if s["has_auto_increment"] else s["default_value"],
            auto_increment=bool(s["has_auto_increment"]))
        if s["is_primary_key"]:
            pks.setdefault(f["collection"], []).append(f["field"])
        if s["is_unique"] and not s["is_primary_key"]:
            spec.indexes.add(IndexSpec((f["field"],), True))
        elif s["is_indexed"] and not s["is_primary_key"]:
            spec.indexes.add(IndexSpec((f["field"],), False))
    for name, cols in pks.items():
        tables[name].primary_key = tuple(cols)
    for spec in tables.values():
        for idx in spec.indexes:
            for col in idx.columns:
                if col not in spec.columns:
                    raise DiffNotApplicable(f"an index of {spec.name} names the column "
                                            f"{col!r}, which it does not have",
                                            collection=spec.name, column=col)
    for r in snapshot["relations"]:
        s = r["schema"]
        if s is None:
            continue
        table = tables.get(r["collection"])
        ref = tables.get(s["foreign_key_table"] or "")
        where = f"{r['collection']}.{r['field']}"
        if table is None or ref is None or r["field"] not in table.columns:
            raise DiffNotApplicable(f"the relation on {where} joins a table or column "
                                    "that does not exist", relation=where)
        ref_col = s["foreign_key_column"] or (ref.primary_key[0] if ref.primary_key
                                              else None)
        if ref_col is None or ref_col not in ref.columns:
            raise DiffNotApplicable(f"the relation on {where} refers to the column "
                                    f"{s['foreign_key_table']}.{ref_col}, which does not "
                                    "exist", relation=where)
        fk_cols: tuple[str, ...] = (r["field"],)
        table.relations[fk_cols] = RelationSpec(
            name=s["constraint_name"] or constraint_name(table.name, fk_cols, "foreign"),
            columns=fk_cols, ref_table=ref.name, ref_columns=(ref_col,),
            on_update=s["on_update"], on_delete=s["on_delete"])
    return tables


def _expression(table: str, name: str, expression: str) -> str:
    """A check's expression: one SQL expression (it goes into ``CHECK (...)`` as written,
    so no statement separator, comment or unbalanced parenthesis)."""
    depth = 0
    quoted = False
    for ch in expression:
        if ch == "'":
            quoted = not quoted
        elif not quoted and ch == "(":
            depth += 1
        elif not quoted and ch == ")":
            depth -= 1
            if depth < 0:
                break
    bad = depth != 0 or quoted or any(s in expression for s in (";", "--", "/*"))
    if bad:
        raise DiffNotApplicable(f"the check {name!r} of {table} must be one SQL expression "
                                f"(balanced parentheses, no ';' or comment): "
                                f"{expression!r}", collection=table, check=name)
    return expression


def _field_order(f: dict[str, Any]) -> tuple[Any, ...]:
    """Columns of a new table: the primary key first, then by Directus' ``meta.sort``."""
    meta = f.get("meta") if isinstance(f.get("meta"), dict) else {}
    sort = meta.get("sort") if meta else None
    pk = bool(f["schema"] and f["schema"].get("is_primary_key"))
    return (not pk, sort if isinstance(sort, int) and not isinstance(sort, bool) else 1 << 30)


def _relation_key(r: RelationSpec) -> tuple[Any, ...]:
    return (r.columns, r.ref_table, r.ref_columns, r.on_update, r.on_delete)


def plan(current: dict[str, Any], target: dict[str, Any]) -> list[Change]:
    """The ordered changes that make ``current``'s tables into ``target``'s."""
    cur, tgt = table_specs(current), table_specs(target)
    drops_rel: list[Change] = []
    drops_chk: list[Change] = []
    drops_idx: list[Change] = []
    drops_tab: list[Change] = []
    creates: list[Change] = []
    alters: list[Change] = []
    drop_cols: list[Change] = []
    new_idx: list[Change] = []
    new_chk: list[Change] = []
    new_rel: list[Change] = []
    for name in sorted(cur.keys() | tgt.keys()):
        before, after = cur.get(name), tgt.get(name)
        if after is None:
            assert before is not None
            drops_rel.extend(DropRelation(name, r) for r in before.relations.values())
            drops_tab.append(DropTable(name))
            continue
        if before is None:
            creates.append(CreateTable(name, after))
            new_idx.extend(CreateIndex(name, i) for i in sorted(after.indexes, key=_ikey))
            new_chk.extend(CreateCheck(name, n, e) for n, e in sorted(after.checks.items()))
            new_rel.extend(CreateRelation(name, r) for r in after.relations.values())
            continue
        for cols, rel in before.relations.items():
            other = after.relations.get(cols)
            if other is None or _relation_key(other) != _relation_key(rel):
                drops_rel.append(DropRelation(name, rel))
        for cols, rel in after.relations.items():
            other = before.relations.get(cols)
            if other is None or _relation_key(other) != _relation_key(rel):
                new_rel.append(CreateRelation(name, rel))
        for chk, expr in sorted(before.checks.items()):
            if after.checks.get(chk) != expr:
                drops_chk.append(DropCheck(name, chk))
        for chk, expr in sorted(after.checks.items()):
            if before.checks.get(chk) != expr:
                new_chk.append(CreateCheck(name, chk, expr))
        drops_idx.extend(DropIndex(name, i) for i in sorted(before.indexes - after.indexes,
                                                            key=_ikey))
        new_idx.extend(CreateIndex(name, i) for i in sorted(after.indexes - before.indexes,
                                                            key=_ikey))
        for col, spec in after.columns.items():
            old = before.columns.get(col)
            if old is None:
                alters.append(AddColumn(name, spec))
            elif old != spec:
                alters.append(AlterColumn(name, old, spec))
        if before.primary_key != after.primary_key:
            alters.append(SetPrimaryKey(name, before.primary_key, after.primary_key))
        drop_cols.extend(DropColumn(name, col) for col in before.columns
                         if col not in after.columns)
    for change in (*creates, *alters):
        made: list[ColumnSpec] = (
            list(change.spec.columns.values()) if isinstance(change, CreateTable)
            else [change.column] if isinstance(change, AddColumn)
            else [change.after] if isinstance(change, AlterColumn) else [])
        for spec in made:
            if spec.type.kind not in MAKEABLE:
                where = f"{change.table}.{spec.name}"
                raise UnsupportedFieldType(
                    f"the field {where} has the type {spec.type.kind!r}, which dbplane "
                    "cannot make a column of", field=where, type=spec.type.kind)
    return [*drops_rel, *drops_chk, *drops_idx, *drops_tab, *creates, *alters, *drop_cols,
            *new_idx, *new_chk, *new_rel]


def _ikey(i: IndexSpec) -> tuple[Any, ...]:
    return (i.columns, i.unique)
