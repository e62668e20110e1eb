"""An ``AggregatePlan`` compiled into one statement whose one value is the JSON array of
the groups, rendered by the database as lists are (``TablesDialect.list_select`` over a
grouped subquery).

    SELECT <array of objects> FROM (
        SELECT g0, g1, count(*) AS a0, sum(x) AS a1 FROM t WHERE ... GROUP BY g0, g1
    ) AS g ORDER BY ... LIMIT n OFFSET m

Filter values are bound parameters (``sql.compile``'s predicates); limit and offset are
ints the planner parsed and bounded, written as numbers.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from dbplane.engines.sql.compile import _Builder, leaves, table_clause
from dbplane.engines.sql.dialect import Expr, Rows, Sort, sql_text
from dbplane.engines.sql.engine import SqlEngine
from dbplane.engines.sql.writes import _compile
from dbplane.query.aggregate import AggregatePlan
from dbplane.query.model import ReadPlan

__all__ = ["aggregate_statement"]


def _function(fn: str, c: Expr | None) -> Expr:
    if c is None:
        return sa.func.count()
    if fn == "countDistinct":
        return sa.func.count(sa.distinct(c))
    made: Expr = getattr(sa.func, fn)(c)
    return made


def aggregate_statement(engine: SqlEngine, plan: AggregatePlan) -> tuple[str, tuple[Any, ...]]:
    """The SQL text and driver arguments of ``plan``."""
    d = engine.tables_dialect
    info = plan.table
    t = table_clause(info)
    columns: list[Expr] = [t.c[c.name].label(f"g{i}") for i, c in enumerate(plan.groups)]
    columns += [_function(fn, None if col is None else t.c[col.name]).label(f"a{j}")
                for j, (fn, col) in enumerate(plan.aggregates)]
    inner = sa.select(*columns).select_from(t)
    filter_values: list[Any] = []
    if plan.where is not None:
        read = ReadPlan(table=info, columns=(), where=plan.where)
        found = leaves(read)
        inner = inner.where(_Builder(d, read, found).group(t, plan.where))
        filter_values = [d.filter_value(leaf.column, leaf.value, leaf.pattern)
                         for leaf in found]
    if plan.groups:
        inner = inner.group_by(*(t.c[c.name] for c in plan.groups))
    g = inner.subquery("g")

    outputs: list[tuple[Expr, bool]] = [  # the value each output sorts by, nullable
        (d.range_operand(g.c[f"g{i}"], c), c.nullable) for i, c in enumerate(plan.groups)]
    outputs += [(g.c[f"a{j}"], True) for j in range(len(plan.aggregates))]
    pairs: list[tuple[str, Expr]] = [(c.name, d.render(g.c[f"g{i}"], c))
                                     for i, c in enumerate(plan.groups)]
    nested: dict[str, list[tuple[str, Expr]]] = {}
    for j, (fn, col) in enumerate(plan.aggregates):
        value: Expr = g.c[f"a{j}"]
        if col is None:
            pairs.append((fn, value))
            continue
        if fn in ("min", "max"):
            value = d.render(value, col)
        if fn not in nested:
            nested[fn] = []
            pairs.append((fn, sql_text("NULL")))  # placeholder, filled below
        nested[fn].append((col.name, value))
    pairs = [(key, d.json_object(nested[key]) if key in nested else value)
             for key, value in pairs]
    rows = Rows(g, pairs, order=[Sort(outputs[i][0], desc, outputs[i][1])
                                 for i, desc in plan.order],
                limit=sql_text(str(int(plan.limit))),
                offset=sql_text(str(int(plan.offset))) if plan.offset else None)
    statement = d.list_select(rows, None)
    entry = _compile(statement, engine.sa_engine.dialect, len(filter_values), info)
    return entry.sql, entry.arguments(filter_values)
