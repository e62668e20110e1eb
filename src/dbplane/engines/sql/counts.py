"""``count=planned`` and ``count=estimated`` (PostgREST's meanings): the number of rows a
list's filters keep, as the database's planner estimates it, or counted exactly when the
estimate is below a threshold.

Each type says how its planner is asked (``TablesDialect.estimate_rows``): PostgreSQL's
``EXPLAIN (FORMAT JSON)`` row estimate, MariaDB's ``EXPLAIN FORMAT=JSON`` rows times the
filtered share. SQLite keeps no per-query row estimate (``sqlite_stat1`` describes
indexes, and only after ANALYZE), so there both are an exact count.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from dbplane.engines.sql.compile import _Builder, leaves, table_clause
from dbplane.engines.sql.engine import SqlEngine
from dbplane.engines.sql.tables import run_read
from dbplane.engines.sql.writes import _compile
from dbplane.query.model import ReadPlan

__all__ = ["CountStatements", "count_statements", "estimated_count"]


@dataclass(frozen=True, slots=True)
class CountStatements:
    """The filters' rows as ``SELECT 1 FROM t WHERE …`` (for the planner) and
    ``SELECT count(*) FROM t WHERE …`` (exact), each (sql, driver arguments)."""

    probe: tuple[str, tuple[Any, ...]]
    exact: tuple[str, tuple[Any, ...]]


def count_statements(engine: SqlEngine, plan: ReadPlan) -> CountStatements:
    d = engine.tables_dialect
    t = table_clause(plan.table)
    filter_plan = ReadPlan(table=plan.table, columns=(), where=plan.where)
    out = []
    heads: list[Any] = [sa.literal_column("1"), sa.func.count()]
    for head in heads:
        found = leaves(filter_plan)
        query = sa.select(head).select_from(t)
        if plan.where is not None:
            query = query.where(_Builder(d, filter_plan, found).group(t, plan.where))
        values = [d.filter_value(leaf.column, leaf.value, leaf.pattern) for leaf in found]
        entry = _compile(query, engine.sa_engine.dialect, len(values), plan.table)
        out.append((entry.sql, entry.arguments(values)))
    return CountStatements(out[0], out[1])


async def estimated_count(engine: SqlEngine, counts: CountStatements, mode: str,
                          exact_below: int) -> int:
    """``planned``: the planner's estimate (an exact count where there is none);
    ``estimated``: exact when the estimate is below ``exact_below``, else the estimate."""
    estimate = await engine.tables_dialect.estimate_rows(engine, *counts.probe)
    if estimate is not None and (mode == "planned" or estimate >= exact_below):
        return estimate
    row = await run_read(engine, *counts.exact)
    return int(row[0]) if row is not None else 0
