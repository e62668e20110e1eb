"""From what was asked to what will run: requests checked against a table's live schema.

Pure: plain values in, ``ReadPlan`` / ``WritePlan`` out; no I/O, no SQL. Every name a
request carries (column, operator, relation) is matched exactly, case-sensitively, against
the ``TableInfo``; every value is converted to its column's kind (``query.convert``). An
engine compiles a plan into SQLAlchemy Core and binds the values; nothing else from a
request reaches SQL.

Decisions this module makes (documented for users in the Tables API docs):

- Order: the requested sort keys, then the primary key columns not already named, so
  pages of a list are stable; they run in the direction of the last requested key
  (ascending when none is), so an index on the sort column serves the whole order
  (``score DESC, id DESC`` walks an index on score backwards; ``id ASC`` would need a
  sort). A table without a primary key is ordered only as asked.
- ``fields``: duplicates are dropped (a JSON object has each key once); json columns cannot
  be sorted on.
- Relations (``relations``): see its docstring. ``include[x][limit]`` applies to
  one-to-many relations only, and is bounded by the same maximum as ``limit``.
- Operators that do not apply to a column's kind are an ``UnknownOperator`` whose ``valid``
  lists the operators of that kind. Pattern operators (``$contains``, ``$startsWith``…) take
  their value as text, unconverted.
- Writes: tables without a primary key and views are read-only (``ReadOnlyTable``).
  ``created_on`` / ``updated_on`` are filled when absent (``timestamp_value``);
  ``updated_on`` is set on every update that does not give it. ``null`` for a column the
  database generates (``autoincrement``) on insert means "generate it".
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import replace
from decimal import Decimal
from typing import Any, Literal

from dbplane.errors import (
    DbplaneError,
    MalformedParameter,
    NotNullViolation,
    ReadOnlyTable,
    UnknownColumn,
    UnknownOperator,
    UnknownRelation,
)
from dbplane.query.convert import convert_json_value, convert_query_value
from dbplane.query.keys import KEY_PARAMETER
from dbplane.query.keyset import seek
from dbplane.query.model import (
    ColumnInfo,
    Condition,
    FilterGroup,
    ForeignKey,
    Include,
    OrderBy,
    Predicate,
    PredicateGroup,
    ReadPlan,
    SchemaInfo,
    TableInfo,
    TableRequest,
    WritePlan,
)
from dbplane.query.operators import (
    Operator,
    operator_for,
    operators_for_kind,
    valid_operators,
)

__all__ = [
    "CREATED_ON",
    "UPDATED_ON",
    "plan_delete",
    "plan_delete_where",
    "plan_filter",
    "plan_insert",
    "plan_key",
    "plan_read",
    "plan_update",
    "plan_update_where",
    "plan_upsert",
    "relations",
    "timestamp_value",
]

CREATED_ON = "created_on"
UPDATED_ON = "updated_on"


def _malformed(parameter: str, why: str) -> MalformedParameter:
    return MalformedParameter(f"{parameter}: {why}", parameter=parameter)


def _column(table: TableInfo, name: str, parameter: str) -> ColumnInfo:
    col = table.column(name)
    if col is None:
        raise UnknownColumn(table=table.name, column=name, parameter=parameter)
    return col


# -- relations -------------------------------------------------------------------------


def _remote_key(fk: ForeignKey, schema: SchemaInfo) -> tuple[TableInfo, tuple[str, ...]] | None:
    referred = schema.tables.get(fk.referred_table)
    if referred is None:
        return None
    # SQLite lets a foreign key name no columns: it then refers to the primary key
    columns = fk.referred_columns or referred.primary_key
    if len(columns) != len(fk.columns) or not columns:
        return None
    return referred, columns


def relations(table: TableInfo, schema: SchemaInfo) -> dict[str, Include]:
    """The relations ``include=`` can name on ``table``, by name.

    - many-to-one, for each foreign key of ``table``: named by its single column without a
      trailing ``_id`` (``author_id`` → ``author``), and also by the referred table's name
      (``users``);
    - one-to-many, for each foreign key of another table referring to ``table``: named by
      that table's name (``articles``); if that table has several foreign keys to
      ``table``, each is named ``<table>.<its columns joined by .>`` (``articles.editor_id``)
      instead.

    - many-to-one, for a foreign key of a single column not ending in ``_id``
      (``author``, Directus's convention): named by the column itself; the embedded row
      then replaces the key under the column's name, as Directus does.

    When one name fits several relations, the column-based name wins over a one-to-many
    name, which wins over a referred table's name; a name still fitting two relations of
    the same rank is not offered. Any other name equal to one of ``table``'s columns is
    not offered (the embedded value would collide with the column in each row).
    """
    candidates: list[tuple[str, int, Include]] = []
    for fk in table.foreign_keys:
        remote = _remote_key(fk, schema)
        if remote is None:
            continue
        referred, remote_columns = remote
        rel = Include("", "many-to-one", referred, fk.columns, remote_columns)
        if len(fk.columns) == 1 and fk.columns[0].endswith("_id") and len(fk.columns[0]) > 3:
            candidates.append((fk.columns[0][:-3], 0, rel))
        elif len(fk.columns) == 1:
            # Directus's own convention: a key column named for the relation (``author``);
            # the embedded row replaces the key in each row, under the column's name
            candidates.append((fk.columns[0], 0, rel))
        candidates.append((referred.name, 2, rel))
    for other_name in sorted(schema.tables):
        other = schema.tables[other_name]
        fks = [fk for fk in other.foreign_keys if fk.referred_table == table.name]
        for fk in fks:
            referred_columns = fk.referred_columns or table.primary_key
            if len(referred_columns) != len(fk.columns) or not fk.columns:
                continue
            rel = Include("", "one-to-many", other, referred_columns, fk.columns)
            name = other.name if len(fks) == 1 else f"{other.name}.{'.'.join(fk.columns)}"
            candidates.append((name, 1, rel))

    best: dict[str, tuple[int, list[Include]]] = {}
    for name, rank, rel in candidates:
        if name in table.column_names and not (
                rank == 0 and rel.kind == "many-to-one" and rel.local_columns == (name,)):
            continue
        seen = best.get(name)
        if seen is None or rank < seen[0]:
            best[name] = (rank, [rel])
        elif rank == seen[0] and rel not in seen[1]:
            seen[1].append(rel)
    return {name: dataclasses.replace(rels[0], name=name)
            for name, (_, rels) in best.items() if len(rels) == 1}


# -- filters ---------------------------------------------------------------------------


def _not_applicable(op: Operator, spelled: str, col: ColumnInfo,
                    parameter: str) -> UnknownOperator:
    valid = operators_for_kind(col.kind)
    return UnknownOperator(
        operator=spelled, column=col.name, valid=valid,
        detail=(f"{parameter}: {spelled} ({op.description}) does not apply to the "
                f"{col.kind} column {col.name!r}; its operators: {' '.join(valid)}"))


def _predicate(cond: Condition, table: TableInfo, parameter: str) -> Predicate:
    col = _column(table, cond.column, parameter)
    op = operator_for(cond.operator)
    if op is None:
        raise UnknownOperator(operator=cond.operator, column=cond.column,
                              valid=valid_operators())
    if not op.applies_to(col.kind):
        raise _not_applicable(op, cond.operator, col, parameter)
    raw = cond.value
    value: Any
    if op.arity == "none":
        value = None
    elif op.arity == "one":
        if not isinstance(raw, str):
            raise _malformed(parameter, f"{cond.operator} takes one value")
        value = raw if op.pattern else convert_query_value(col, raw, parameter)
    else:
        values = tuple(raw.split(",")) if isinstance(raw, str) else raw
        if not values:
            raise _malformed(parameter, f"{cond.operator} takes at least one value")
        if op.arity == "pair" and len(values) != 2:
            raise _malformed(parameter, f"{cond.operator} takes two values, lo,hi")
        value = tuple(convert_query_value(col, v, parameter) for v in values)
    return Predicate(col, op.name, value)


def _level(items: Sequence[Condition | FilterGroup], table: TableInfo,
           prefix: str) -> tuple[Predicate | PredicateGroup, ...]:
    out: list[Predicate | PredicateGroup] = []
    for item in items:
        if isinstance(item, Condition):
            out.append(_predicate(item, table, f"{prefix}[{item.column}][{item.operator}]"))
        else:
            out.append(_group(item, table, f"{prefix}[${item.kind}]"))
    return tuple(out)


def _group(group: FilterGroup, table: TableInfo, prefix: str) -> PredicateGroup:
    if not group.items:
        raise _malformed(prefix, "a group with no conditions")
    children: list[Predicate | PredicateGroup] = []
    for j, child in enumerate(group.items):
        child_prefix = f"{prefix}[{j}]"
        if isinstance(child, FilterGroup) and child.kind == "and" and len(child.items) > 1:
            # several conditions under one index: filters[$or][0][a][$eq]&…[0][b][$eq]
            children.append(PredicateGroup("and", _level(child.items, table, child_prefix)))
        else:
            children.extend(_level((child,), table, child_prefix))
    return PredicateGroup(group.kind, tuple(children))


# -- keys ------------------------------------------------------------------------------


def _addressable(table: TableInfo) -> None:
    if not table.primary_key:
        raise ReadOnlyTable(f"the table {table.name!r} has no primary key: its records "
                            f"cannot be addressed one by one (it can only be listed)",
                            table=table.name)


def plan_key(table: TableInfo, key_parts: Sequence[str]) -> tuple[tuple[ColumnInfo, Any], ...]:
    """A record's primary key values (split by ``query.keys``), each converted by its
    column's kind: MalformedParameter for the wrong number of values, InvalidValue for one
    that does not convert, ReadOnlyTable for a table without a primary key."""
    _addressable(table)
    n = len(table.primary_key)
    if len(key_parts) != n:
        raise _malformed(KEY_PARAMETER, f"the primary key of {table.name!r} has {n} "
                                        f"column(s) ({', '.join(table.primary_key)}); "
                                        f"{len(key_parts)} value(s) given")
    pairs: list[tuple[ColumnInfo, Any]] = []
    for name, raw in zip(table.primary_key, key_parts, strict=True):
        col = table.column(name)
        if col is None:  # pragma: no cover - introspection always lists key columns
            raise DbplaneError(f"the primary key column {name!r} of {table.name!r} is "
                               f"not among its columns")
        pairs.append((col, convert_query_value(col, raw, KEY_PARAMETER)))
    return tuple(pairs)


# -- read ------------------------------------------------------------------------------


def plan_read(req: TableRequest, table: TableInfo, schema: SchemaInfo, *,
              default_limit: int, max_limit: int, include_limit: int = 10,
              key: tuple[str, ...] | None = None) -> ReadPlan:
    """Check a parsed list (or, with ``key``, get-one) request against the table and
    resolve it into a ``ReadPlan``.

    ``key``: the primary key values of one record, already split (``query.keys``); the plan
    then reads at most that one row. Raises UnknownColumn, UnknownOperator, InvalidValue,
    UnknownRelation, MalformedParameter (limits, keys) and ReadOnlyTable (a key for a
    table without a primary key)."""
    if req.fields is None:
        columns = table.columns
    else:
        chosen: dict[str, ColumnInfo] = {}
        for name in req.fields:
            chosen.setdefault(name, _column(table, name, "fields"))
        columns = tuple(chosen.values())

    order: list[OrderBy] = []
    for sk in req.sort:
        col = _column(table, sk.column, "sort")
        if col.kind == "json":
            raise _malformed("sort", f"the json column {col.name!r} cannot be sorted on")
        order.append(OrderBy(col, sk.descending))

    where = None
    if req.filters is not None and req.filters.items:
        where = PredicateGroup(req.filters.kind, _level(req.filters.items, table, "filters"))

    available = relations(table, schema) if req.include else {}
    includes: list[Include] = []
    for inc in req.include:
        rel = available.get(inc.name)
        if rel is None:
            raise UnknownRelation(table=table.name, include=inc.name, valid=sorted(available))
        parameter = f"include[{inc.name}][limit]"
        if rel.kind == "many-to-one":
            if inc.limit is not None:
                raise _malformed(parameter, f"{inc.name} is a many-to-one relation: it "
                                            f"embeds one row, a limit does not apply")
            includes.append(rel)
            continue
        if inc.limit is not None and inc.limit > max_limit:
            raise _malformed(parameter, f"{inc.limit} is more than the maximum {max_limit}")
        includes.append(dataclasses.replace(
            rel, limit=include_limit if inc.limit is None else inc.limit))

    if key is not None:
        return ReadPlan(table=table, columns=columns, where=where, limit=1,
                        includes=tuple(includes), key=plan_key(table, key))

    if req.limit is not None and req.limit > max_limit:
        raise _malformed("limit", f"{req.limit} is more than the maximum {max_limit}")
    named = {o.column.name for o in order}
    tie_descending = order[-1].descending if order else False
    for name in table.primary_key:
        key_col = table.column(name)
        if key_col is not None and name not in named:
            order.append(OrderBy(key_col, tie_descending))
    if req.after is not None:
        where = _keyset(req, table, columns, tuple(order), where)
    return ReadPlan(
        table=table,
        columns=columns,
        where=where,
        order=tuple(order),
        limit=default_limit if req.limit is None else req.limit,
        offset=req.offset,
        count_exact=req.count_exact,
        includes=tuple(includes),
    )


def _keyset(req: TableRequest, table: TableInfo, columns: tuple[ColumnInfo, ...],
            order: tuple[OrderBy, ...], where: PredicateGroup | None) -> PredicateGroup | None:
    """``where`` and the rows after the cursor (``query.keyset``)."""
    if req.after is None:
        return where
    if req.offset:
        raise _malformed("after", "keyset pages (after=) and offset= do not mix")
    if not table.primary_key:
        raise _malformed("after", f"{table.name!r} has no primary key: keyset pages need "
                                  "one to break ties")
    shown = {c.name for c in columns}
    missing = [o.column.name for o in order if o.column.name not in shown]
    if missing:
        raise _malformed("fields", f"keyset pages need the sort and key columns in the "
                                   f"rows: add {', '.join(missing)}")
    after = seek(order, req.after)
    if after is None:
        return where
    if where is None:
        return PredicateGroup("and", (after,))
    return PredicateGroup("and", (where, after))


# -- write -----------------------------------------------------------------------------


def _writable(table: TableInfo) -> None:
    if table.kind == "view":
        raise ReadOnlyTable(f"{table.name!r} is a view: it can be read, not written",
                            table=table.name)
    _addressable(table)


def _has_time_zone(col: ColumnInfo) -> bool:
    t = col.type_sql.lower()
    return "timestamptz" in t or ("with time zone" in t and "without" not in t)


def timestamp_value(col: ColumnInfo, now_ms: int) -> Any:
    """What an automatic ``created_on`` / ``updated_on`` column gets, by its kind: epoch
    milliseconds for integer, float and decimal columns (the seed's form); an ISO 8601 UTC
    string with milliseconds (``2023-07-08T01:37:41.122Z``) for text and other columns; a
    UTC datetime for datetime columns (aware when the type has a time zone, naive
    otherwise); the UTC date for date columns. None for any other kind: not filled."""
    moment = dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(milliseconds=now_ms)
    match col.kind:
        case "integer":
            return now_ms
        case "float":
            return float(now_ms)
        case "decimal":
            return Decimal(now_ms)
        case "text" | "other":
            return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
        case "datetime":
            return moment if _has_time_zone(col) else moment.replace(tzinfo=None)
        case "date":
            return moment.date()
        case _:
            return None


def _not_null(table: TableInfo, col: ColumnInfo, parameter: str, given: bool) -> NotNullViolation:
    why = "is null" if given else "is missing"
    return NotNullViolation(f"{parameter}: the column {col.name!r} cannot be null and "
                            f"{why}", table=table.name, column=col.name, parameter=parameter)


def _nullable(table: TableInfo, col: ColumnInfo) -> bool:
    return col.nullable and col.name not in table.primary_key


def _check_keys(table: TableInfo, row: dict[Any, Any], parameter: str) -> None:
    for k in row:
        if not isinstance(k, str) or table.column(k) is None:
            raise UnknownColumn(table=table.name, column=str(k), parameter=parameter)


def _rows(data: Any) -> list[tuple[str, dict[Any, Any]]]:
    if isinstance(data, dict):
        return [("data", data)]
    if isinstance(data, list) and data:
        rows: list[tuple[str, dict[Any, Any]]] = []
        for i, row in enumerate(data):
            if not isinstance(row, dict):
                raise _malformed(f"data[{i}]", "each row is a JSON object")
            rows.append((f"data[{i}]", row))
        return rows
    raise _malformed("data", "data is a JSON object, or a non-empty array of objects")


def plan_insert(table: TableInfo, data: Any, *, now_ms: int,
                new_uuid: Callable[[], str]) -> WritePlan:
    """Check the ``data`` of a create request (an object, or a non-empty array of them)
    and resolve it into an insert ``WritePlan``; each row maps column names, in the
    table's order, to converted values.

    Filled when absent: ``created_on`` / ``updated_on`` (``timestamp_value``) and a
    single-column text or uuid primary key with no default that the database does not
    generate (``new_uuid()``). Errors name the row: ``data`` for an object, ``data[i]`` in an
    array (UnknownColumn), ``data[i].column`` (InvalidValue, NotNullViolation)."""
    _writable(table)
    pk = table.primary_key
    uuid_key = None
    if len(pk) == 1:
        key_col = table.column(pk[0])
        if key_col is not None and key_col.kind in ("text", "uuid") \
                and key_col.default is None and not key_col.autoincrement:
            uuid_key = key_col.name
    planned: list[dict[str, Any]] = []
    for row_param, row in _rows(data):
        _check_keys(table, row, row_param)
        out: dict[str, Any] = {}
        for col in table.columns:
            parameter = f"{row_param}.{col.name}"
            if col.name in row:
                value = row[col.name]
                if value is None:
                    if col.autoincrement:
                        continue  # null asks the database for a generated value
                    if not _nullable(table, col):
                        raise _not_null(table, col, parameter, given=True)
                    out[col.name] = None
                else:
                    out[col.name] = convert_json_value(col, value, parameter)
                continue
            if col.name in (CREATED_ON, UPDATED_ON):
                stamp = timestamp_value(col, now_ms)
                if stamp is not None:
                    out[col.name] = stamp
                    continue
            if col.name == uuid_key:
                out[col.name] = new_uuid()
            elif not _nullable(table, col) and col.default is None and not col.autoincrement:
                raise _not_null(table, col, parameter, given=False)
        planned.append(out)
    return WritePlan(table=table, action="insert", rows=tuple(planned),
                     returning=table.columns)


def plan_update(table: TableInfo, key_parts: Sequence[str], data: Any, *,
                now_ms: int, key: bool = True) -> WritePlan:
    """Check an update (``PUT`` / ``PATCH``: only the given columns change, primary key
    columns included) and resolve it into a ``WritePlan`` with one row of changes and the
    record's key. ``updated_on`` is set to ``now_ms`` (``timestamp_value``) unless given."""
    _writable(table)
    planned_key = plan_key(table, key_parts) if key else None
    if not isinstance(data, dict):
        raise _malformed("data", "data is a JSON object of the columns to change")
    if not data:
        raise _malformed("data", "no column to change")
    _check_keys(table, data, "data")
    out: dict[str, Any] = {}
    for col in table.columns:
        parameter = f"data.{col.name}"
        if col.name in data:
            value = data[col.name]
            if value is None:
                if not _nullable(table, col):
                    raise _not_null(table, col, parameter, given=True)
                out[col.name] = None
            else:
                out[col.name] = convert_json_value(col, value, parameter)
        elif col.name == UPDATED_ON:
            stamp = timestamp_value(col, now_ms)
            if stamp is not None:
                out[col.name] = stamp
    return WritePlan(table=table, action="update", rows=(out,), key=planned_key,
                     returning=table.columns)


def plan_delete(table: TableInfo, key_parts: Sequence[str]) -> WritePlan:
    """Check a delete of one record by its primary key."""
    _writable(table)
    return WritePlan(table=table, action="delete", key=plan_key(table, key_parts))



# -- upserts and bulk writes -------------------------------------------------------------


def plan_upsert(table: TableInfo, data: Any, conflict: Sequence[str],
                resolution: Literal["merge-duplicates", "ignore-duplicates"], *, now_ms: int,
                new_uuid: Callable[[], str]) -> WritePlan:
    """An insert whose rows that conflict on the unique key ``conflict`` (the primary key
    when empty) update the existing row (``merge-duplicates``: the columns each row
    gives) or leave it (``ignore-duplicates``). Whether ``conflict`` is a unique key is
    the engine's to check (the schema read for the Tables API has no unique keys)."""
    plan = plan_insert(table, data, now_ms=now_ms, new_uuid=new_uuid)
    names = tuple(conflict) or table.primary_key
    seen: set[str] = set()
    for name in names:
        _column(table, name, "on_conflict")
        if name in seen:
            raise _malformed("on_conflict", f"{name!r} is named twice")
        seen.add(name)
    return replace(plan, conflict=names, resolution=resolution)


def plan_filter(table: TableInfo, filters: FilterGroup | None) -> PredicateGroup | None:
    """The checked filters of a bulk update or delete (UnknownColumn, UnknownOperator,
    InvalidValue naming the ``filters[...]`` parameter)."""
    if filters is None or not filters.items:
        return None
    return PredicateGroup(filters.kind, _level(filters.items, table, "filters"))


def plan_update_where(table: TableInfo, where: PredicateGroup | None, data: Any, *,
                      now_ms: int, max_affected: int | None = None) -> WritePlan:
    """An update of every row ``where`` keeps (every row when None): the given columns,
    and ``updated_on`` as ``plan_update`` sets it."""
    one = plan_update(table, (), data, now_ms=now_ms, key=False)
    return replace(one, where=where, max_affected=max_affected)


def plan_delete_where(table: TableInfo, where: PredicateGroup | None, *,
                      max_affected: int | None = None) -> WritePlan:
    """A delete of every row ``where`` keeps (every row when None)."""
    _writable(table)
    return WritePlan(table=table, action="delete", where=where, max_affected=max_affected,
                     returning=table.columns)
