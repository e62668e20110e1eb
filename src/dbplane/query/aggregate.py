"""Aggregates and grouping in Directus's syntax, and ``distinct``: parsed, then checked
against a table.

    aggregate[count]=*                 {"count": 42}
    aggregate[sum]=price,cost          {"sum": {"price": 10, "cost": 4}}
    aggregate[countDistinct]=author    {"countDistinct": {"author": 3}}
    groupBy[]=author  (or groupBy=a,b) {"author": 1, "count": 5, ...} per group
    distinct=a,b                       {"a": ..., "b": ...} per distinct pair

Combinable with ``filters[...]`` (applied before grouping), ``sort`` (a group column, or
an aggregate as ``count`` / ``sum.price``, ``:desc``), ``limit`` and ``offset`` (of the
groups). Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from dbplane.errors import MalformedParameter, UnknownColumn
from dbplane.query.model import ColumnInfo, PredicateGroup, TableInfo, TableRequest
from dbplane.query.params import parse_table_params, split_brackets
from dbplane.query.plan import plan_filter

__all__ = ["AGGREGATES", "AggregatePlan", "AggregateRequest", "is_aggregate",
           "parse_aggregate_params", "plan_aggregate"]

Function = Literal["count", "countDistinct", "sum", "avg", "min", "max"]
AGGREGATES: tuple[Function, ...] = ("count", "countDistinct", "sum", "avg", "min", "max")
_NUMERIC = frozenset({"integer", "float", "decimal"})
_OURS = ("aggregate", "groupBy", "distinct")


def _bad(parameter: str, why: str) -> MalformedParameter:
    return MalformedParameter(f"{parameter}: {why}", parameter=parameter)


@dataclass(frozen=True)
class AggregateRequest:
    aggregates: tuple[tuple[Function, str], ...]
    """(function, column or ``*``), in the order asked."""
    group_by: tuple[str, ...]
    base: TableRequest
    """The filters, sort, limit and offset (parsed as for a list)."""


def is_aggregate(params: Sequence[tuple[str, str]]) -> bool:
    """Whether the query string asks for aggregates, groups or distinct rows."""
    return any(key.split("[", 1)[0] in _OURS for key, _ in params)


def parse_aggregate_params(params: Sequence[tuple[str, str]]) -> AggregateRequest:
    """Read an aggregate request (see the module); MalformedParameter naming the
    parameter for anything it cannot read."""
    aggregates: list[tuple[Function, str]] = []
    group_by: list[str] = []
    distinct: list[str] = []
    rest: list[tuple[str, str]] = []
    for key, value in params:
        split = split_brackets(key)
        name, parts = split if split is not None else (key, ())
        if name == "aggregate":
            if len(parts) != 1 or parts[0] not in AGGREGATES:
                raise _bad(key, "write aggregate[FUNCTION]=column with FUNCTION one of "
                           + ", ".join(AGGREGATES))
            fn: Function = parts[0]
            for col in value.split(","):
                col = col.strip()
                if not col:
                    raise _bad(key, "an empty column name")
                if col == "*" and fn != "count":
                    raise _bad(key, f"{fn} takes a column, not *")
                if (fn, col) not in aggregates:
                    aggregates.append((fn, col))
        elif name == "groupBy":
            if parts not in ((), ("",)) and not (len(parts) == 1 and parts[0].isdigit()):
                raise _bad(key, "write groupBy[]=column or groupBy=column,column")
            for col in value.split(","):
                if not col.strip():
                    raise _bad(key, "an empty column name")
                if col.strip() not in group_by:
                    group_by.append(col.strip())
        elif name == "distinct":
            if parts or not value or any(not c.strip() for c in value.split(",")):
                raise _bad(key, "write distinct=column,column")
            distinct.extend(c.strip() for c in value.split(","))
        else:
            rest.append((key, value))
    base = parse_table_params(rest)
    for parameter, given in (("fields", base.fields), ("include", base.include),
                             ("count", base.count_exact),
                             ("includeContentType", base.include_content_type)):
        if given:
            raise _bad(parameter, "not with aggregate, groupBy or distinct")
    if distinct:
        if aggregates or group_by:
            raise _bad("distinct", "distinct is a grouping of its own: not with aggregate "
                       "or groupBy")
        group_by = list(dict.fromkeys(distinct))
    return AggregateRequest(tuple(aggregates), tuple(group_by), base)


@dataclass(frozen=True)
class AggregatePlan:
    table: TableInfo
    groups: tuple[ColumnInfo, ...]
    aggregates: tuple[tuple[Function, ColumnInfo | None], ...]
    """(function, column): None for ``count`` of ``*``."""
    where: PredicateGroup | None
    order: tuple[tuple[int, bool], ...]
    """(output index, descending): an index into groups then aggregates."""
    limit: int
    offset: int = 0


def plan_aggregate(req: AggregateRequest, table: TableInfo, *, default_limit: int,
                   max_limit: int) -> AggregatePlan:
    """Check an aggregate request against the table: UnknownColumn naming the parameter,
    MalformedParameter for a function a column's kind has no meaning for (``sum`` of
    text) or a sort key that is neither a group nor an aggregate asked for."""
    def column(name: str, parameter: str) -> ColumnInfo:
        col = table.column(name)
        if col is None:
            raise UnknownColumn(table=table.name, column=name, parameter=parameter)
        return col

    groups = tuple(column(name, "groupBy") for name in req.group_by)
    aggregates: list[tuple[Function, ColumnInfo | None]] = []
    for fn, name in req.aggregates:
        parameter = f"aggregate[{fn}]"
        col = None if name == "*" else column(name, parameter)
        if fn in ("sum", "avg") and col is not None and col.kind not in _NUMERIC:
            raise _bad(parameter, f"{fn} of {name!r}, a {col.kind} column: only of numbers")
        aggregates.append((fn, col))
    names = [c.name for c in groups] + [
        fn if col is None else f"{fn}.{col.name}" for fn, col in aggregates]
    order: list[tuple[int, bool]] = []
    for key in req.base.sort:
        if key.column not in names:
            raise _bad("sort", f"{key.column!r} is neither a groupBy column nor an "
                       f"aggregate asked for ({', '.join(names)})")
        order.append((names.index(key.column), key.descending))
    for i in range(len(groups)):  # then the groups: a stable page
        if all(i != j for j, _ in order):
            order.append((i, False))
    limit = default_limit if req.base.limit is None else req.base.limit
    if limit > max_limit:
        raise _bad("limit", f"at most {max_limit}")
    return AggregatePlan(table=table, groups=groups, aggregates=tuple(aggregates),
                         where=plan_filter(table, req.base.filters), order=tuple(order),
                         limit=limit, offset=req.base.offset)
