"""A ``ReadPlan`` compiled into one SQL statement, cached by the plan's shape.

Every value of a plan (filter values, key values, page bounds) becomes a bound parameter
named by its position (``v0``, ``v1``…), in the order ``leaves`` walks the plan; the one
exception is LIMIT on PostgreSQL (``TablesDialect.literal_limits``), and then the limit's
value is part of the cache key. Two plans
of the same ``shape()`` on the same ``TableInfo`` therefore compile to the same SQL text
with parameters in the same places: the compiled text is kept (``STATEMENT_CACHE``) and
a repeated request only converts its values and runs it (``conn.exec_driver_sql``),
paying neither for building the SQLAlchemy statement nor for compiling it.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.elements import BindParameter
from sqlalchemy.sql.expression import FromClause, Select, TableClause

from dbplane.engines.sql.dialect import (
    PATTERN_OPERATORS,
    Expr,
    Rows,
    Sort,
    TablesDialect,
    sql_text,
)
from dbplane.query.model import (
    ColumnInfo,
    Include,
    Predicate,
    PredicateGroup,
    ReadPlan,
    TableInfo,
)

__all__ = [
    "SNAPSHOT_PARAMETER",
    "STATEMENT_CACHE",
    "CompiledRead",
    "Leaf",
    "StatementCache",
    "compiled_read",
    "compiled_values",
    "leaves",
    "table_clause",
]


@dataclass(frozen=True)
class Leaf:
    """One value of a plan: ``column`` None for a page bound (limit, offset);
    ``pattern`` for the text of contains/startsWith/endsWith."""

    column: ColumnInfo | None
    value: Any
    pattern: bool = False


def leaves(plan: ReadPlan) -> list[Leaf]:
    """The plan's values in parameter order: filters depth first, then the key, then
    limit and offset (a read by key has no page)."""
    out: list[Leaf] = []

    def walk(group: PredicateGroup) -> None:
        for item in group.items:
            if isinstance(item, PredicateGroup):
                walk(item)
            elif item.operator in ("in", "nin", "between"):
                out.extend(Leaf(item.column, v) for v in item.value)
            elif item.operator not in ("null", "notNull"):
                out.append(Leaf(item.column, item.value, item.operator in PATTERN_OPERATORS))

    if plan.where is not None:
        walk(plan.where)
    if plan.key is not None:
        out.extend(Leaf(col, value) for col, value in plan.key)
    else:
        if plan.limit is not None:
            out.append(Leaf(None, plan.limit))
        if plan.offset:
            out.append(Leaf(None, plan.offset))
    return out


def table_clause(info: TableInfo) -> TableClause:
    """A lightweight SQLAlchemy table: names quoted by SQLAlchemy, no types needed."""
    return sa.table(info.name, *(sa.column(c.name) for c in info.columns))


class _Builder:
    """Builds the statement of a plan, taking its parameters in ``leaves`` order."""

    def __init__(self, dialect: TablesDialect, plan: ReadPlan, values: list[Leaf],
                 server_version: tuple[int, ...] | None = None) -> None:
        self.d = dialect
        self.plan = plan
        self.server_version = server_version
        self.params: list[BindParameter[Any]] = [
            sa.bindparam(f"v{i}", type_=dialect.bind_type(leaf.column, leaf.pattern))
            for i, leaf in enumerate(values)]
        self.next = 0

    @staticmethod
    def limit(value: int | None) -> Expr | None:
        """A LIMIT written into the statement: an int the planner parsed and bounded
        (0..DBPLANE_TABLES_MAX_LIMIT), never text from the request (``literal_limits``)."""
        return None if value is None else sql_text(str(int(value)))

    def take(self) -> BindParameter[Any]:
        param = self.params[self.next]
        self.next += 1
        return param

    def group(self, t: FromClause, group: PredicateGroup) -> Expr:
        items = [self.group(t, i) if isinstance(i, PredicateGroup) else self.predicate(t, i)
                 for i in group.items]
        if group.kind == "and":
            return sa.and_(*items) if items else sa.true()
        return sa.or_(*items) if items else sa.false()

    def predicate(self, t: FromClause, p: Predicate) -> Expr:
        d, col = self.d, p.column
        c: Expr = t.c[col.name]
        match p.operator:
            case "null":
                return c.is_(None)
            case "notNull":
                return c.is_not(None)
            case "eq":
                return d.eq(c, col, self.take())
            case "ne":
                # NULL is "not equal" to a value (IS DISTINCT FROM), as for nin, notContains
                return d.eq_operand(c, col).is_distinct_from(self.take())
            case "lt":
                return d.range_operand(c, col) < self.take()
            case "lte":
                return d.range_operand(c, col) <= self.take()
            case "gt":
                return d.range_operand(c, col) > self.take()
            case "gte":
                return d.range_operand(c, col) >= self.take()
            case "between":
                low, high = self.take(), self.take()
                return d.range_operand(c, col).between(low, high)
            case "in":
                values = [self.take() for _ in p.value]
                return d.in_(c, col, values) if values else sa.false()
            case "nin":
                values = [self.take() for _ in p.value]
                if not values:
                    return sa.true()
                return sa.or_(c.is_(None), d.eq_operand(c, col).not_in(values))
            case "contains":
                return d.contains(d.text_operand(c, col), self.take())
            case "notContains":
                return sa.or_(c.is_(None),
                              sa.not_(d.contains(d.text_operand(c, col), self.take())))
            case "startsWith":
                return d.starts_with(d.text_operand(c, col), self.take())
            case "endsWith":
                return d.ends_with(d.text_operand(c, col), self.take())
        raise ValueError(f"unknown operator {p.operator!r}")

    def pairs(self, t: FromClause, columns: tuple[ColumnInfo, ...],
              includes: tuple[Include, ...]) -> list[tuple[str, Expr]]:
        embedded = {inc.name for inc in includes}
        out = [(col.name, self.d.render(t.c[col.name], col)) for col in columns
               if col.name not in embedded]  # an include named as its key replaces it
        for i, inc in enumerate(includes):
            out.append((inc.name, self.include(t, inc, i)))
        return out

    @staticmethod
    def columns(t: FromClause, columns: tuple[ColumnInfo, ...],
                includes: tuple[Include, ...]) -> list[tuple[ColumnInfo, Expr] | None]:
        """What ``pairs`` renders, pair by pair: the column and its plain value."""
        embedded = {inc.name for inc in includes}
        plain: list[tuple[ColumnInfo, Expr] | None] = [(col, t.c[col.name]) for col in columns
                                                       if col.name not in embedded]
        return plain + [None] * len(includes)

    def include(self, t: FromClause, inc: Include, i: int) -> Expr:
        r = table_clause(inc.table).alias(f"r{i}")
        join = sa.and_(*(r.c[remote] == t.c[local]
                         for local, remote in zip(inc.local_columns, inc.remote_columns,
                                                  strict=True)))
        rows = Rows(r, self.pairs(r, inc.table.columns, ()), join, correlate=t)
        if inc.kind == "many-to-one":
            return self.d.one_expr(rows, f"i{i}")
        rows.order = [Sort(self.d.range_operand(r.c[name], col), False, col.nullable)
                      for name in inc.table.primary_key
                      if (col := inc.table.column(name)) is not None]
        rows.limit = self.limit(inc.limit) if self.d.literal_limits else inc.limit
        return self.d.many_expr(rows, f"i{i}")

    def order(self, t: FromClause) -> list[Sort]:
        """The plan's sort, then the primary key as a tie-breaker: a stable page.

        A column the filters already keep from NULL (``score > 500``) sorts as one that
        cannot hold NULL: the answer is the same, and PostgreSQL can then read a plain
        index on it in order instead of sorting every matching row."""
        table = self.plan.table
        not_null = _null_rejected(self.plan.where)
        terms = [Sort(self.d.range_operand(t.c[o.column.name], o.column), o.descending,
                      o.column.nullable and o.column.name not in table.primary_key
                      and o.column.name not in not_null)
                 for o in self.plan.order]
        named = {o.column.name for o in self.plan.order}
        for name in table.primary_key:
            col = table.column(name)
            if name not in named and col is not None:
                terms.append(Sort(self.d.range_operand(t.c[name], col), False, False))
        return terms

    def build(self) -> Select[Any]:
        plan = self.plan
        t = table_clause(plan.table).alias("t")
        where = self.group(t, plan.where) if plan.where is not None else None
        pairs = self.pairs(t, plan.columns, plan.includes)
        plain = self.columns(t, plan.columns, plan.includes)
        if plan.key is not None:
            key = [self.d.eq(t.c[col.name], col, self.take()) for col, _ in plan.key]
            where = sa.and_(*([where] if where is not None else []), *key)
            statement = self.d.record_select(Rows(t, pairs, where))
        else:
            rows = Rows(t, pairs, where, self.order(t), columns=plain)
            if plan.limit is not None:
                taken = self.take()
                rows.limit = self.limit(plan.limit) if self.d.literal_limits else taken
            if plan.offset:
                rows.offset = self.take()
            count: Expr | None = None
            snapshot = None
            if plan.count_exact:
                count_query = sa.select(sa.func.count()).select_from(t)
                if where is not None:
                    count_query = count_query.where(where)
                count = count_query.correlate(None).scalar_subquery()
                snapshot = self.d.snapshot(self.server_version)
                if snapshot is not None:
                    # the total is counted only when the statement's snapshot is not the
                    # one of the total the caller knows (-1: "the one you know")
                    known = sa.bindparam(SNAPSHOT_PARAMETER, "", type_=sa.String())
                    count = sa.case((snapshot == known, sql_text("-1")), else_=count)
            statement = self.d.list_select(rows, count)
            if snapshot is not None:
                statement = statement.add_columns(snapshot)
        if self.next != len(self.params):
            raise AssertionError("the plan's values and the statement's parameters differ")
        return statement


SNAPSHOT_PARAMETER = "snapshot"
"""The parameter of a counted list's statement that names the snapshot of the total the
caller knows ('' for none), on databases with ``TablesDialect.snapshot``."""


@dataclass(frozen=True)
class CompiledRead:
    """A compiled read: the SQL text, and for each driver parameter the index into the
    plan's values followed by the statement's own constants.

    A counted list on a database that names its snapshots answers a third column, the
    snapshot, and counts only when it is not ``arguments(..., snapshot=)``'s (its total
    is then -1: the caller's)."""

    sql: str
    slots: tuple[int, ...]
    constants: tuple[Any, ...]
    tables: tuple[TableInfo, ...]
    """The TableInfo objects it was compiled for (checked by identity on a hit)."""
    snapshot: int | None = None
    """The index of the snapshot parameter among the values and constants, if any."""

    def arguments(self, values: list[Any], snapshot: str = "") -> tuple[Any, ...]:
        every = values + list(self.constants)
        if self.snapshot is not None:
            every[self.snapshot] = snapshot
        return tuple(every[i] for i in self.slots)


def _compile(dialect: TablesDialect, sa_dialect: Dialect, plan: ReadPlan,
             values: list[Leaf]) -> CompiledRead:
    version = getattr(sa_dialect, "server_version_info", None)
    statement = _Builder(dialect, plan, values, version).build()
    compiled = statement.compile(dialect=sa_dialect)
    names = compiled.positiontup
    if names is None:
        raise AssertionError(f"{sa_dialect.name} does not compile to positional parameters")
    index = {f"v{i}": i for i in range(len(values))}
    slots: list[int] = []
    constants: list[Any] = []
    snapshot = None
    for name in names:
        if name in index:
            slots.append(index[name])
        else:
            if name == SNAPSHOT_PARAMETER:
                snapshot = len(values) + len(constants)
            slots.append(len(values) + len(constants))
            constants.append(compiled.binds[name].effective_value)
    return CompiledRead(compiled.string, tuple(slots), tuple(constants),
                        (plan.table, *(i.table for i in plan.includes)), snapshot)


class StatementCache:
    """Compiled reads by (dialect, table, plan shape), least recently used dropped first.

    A hit must be for the very ``TableInfo`` objects it was compiled from (a refreshed
    schema has new ones, whose columns may have changed kind); the entry holds them, so
    their ``id`` cannot be reused while it lives."""

    def __init__(self, size: int = 2048) -> None:
        self.size = size
        self.hits = 0
        self.misses = 0
        self._entries: OrderedDict[Hashable, CompiledRead] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        self._entries.clear()
        self.hits = self.misses = 0

    def get(self, key: Hashable, tables: tuple[TableInfo, ...]) -> CompiledRead | None:
        entry = self._entries.get(key)
        if entry is None or len(entry.tables) != len(tables) or any(
                a is not b for a, b in zip(entry.tables, tables, strict=True)):
            self.misses += 1
            return None
        self._entries.move_to_end(key)
        self.hits += 1
        return entry

    def put(self, key: Hashable, entry: CompiledRead) -> None:
        self._entries[key] = entry
        self._entries.move_to_end(key)
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)


STATEMENT_CACHE = StatementCache()


def compiled_values(dialect: TablesDialect, sa_dialect: Dialect,
                    plan: ReadPlan) -> tuple[CompiledRead, list[Any]]:
    """The compiled statement of ``plan`` (from the cache when its shape was seen) and the
    plan's values converted for the driver, in ``leaves`` order."""
    values = leaves(plan)
    tables = (plan.table, *(i.table for i in plan.includes))
    key = (dialect.name, bool(getattr(sa_dialect, "is_mariadb", False)), id(plan.table),
           plan.shape(), plan.limit if dialect.literal_limits else None)
    entry = STATEMENT_CACHE.get(key, tables)
    if entry is None:
        entry = _compile(dialect, sa_dialect, plan, values)
        STATEMENT_CACHE.put(key, entry)
    return entry, [dialect.filter_value(leaf.column, leaf.value, leaf.pattern)
                   for leaf in values]


def compiled_read(dialect: TablesDialect, sa_dialect: Dialect,
                  plan: ReadPlan) -> tuple[CompiledRead, tuple[Any, ...]]:
    """The compiled statement of ``plan`` and the driver arguments for its values."""
    entry, converted = compiled_values(dialect, sa_dialect, plan)
    return entry, entry.arguments(converted)


# operators that are false on NULL: a row they keep has a value in that column
_REJECTS_NULL = frozenset({"eq", "lt", "lte", "gt", "gte", "in", "between", "contains",
                           "startsWith", "endsWith", "notNull"})


def _null_rejected(where: PredicateGroup | None) -> frozenset[str]:
    """The columns that every row the filters keep has a value in: those of null-rejecting
    predicates and-ed at the top (``or`` groups are not looked into)."""
    if where is None or where.kind != "and":
        return frozenset()
    names: set[str] = set()
    for item in where.items:
        if isinstance(item, PredicateGroup):
            names |= _null_rejected(item)
        elif item.operator == "notNull" or (item.operator in _REJECTS_NULL
                                            and item.value is not None):
            names.add(item.column.name)
    return frozenset(names)
