"""Property: for random rows, filter trees, sorts and pages, the Tables API answers what a
Python reference evaluation of the same request over the same rows gives, on SQLite,
PostgreSQL and MariaDB.

The reference states the semantics dbplane promises (docs/tables.md): ``$ne``, ``$nin``
and ``$notContains`` count NULL as different (IS DISTINCT FROM); the other comparisons
are false on NULL; text compares by code point (binary collation), case-sensitively;
NULLs sort first ascending and last descending; the primary key breaks ties, in the
direction of the last sort key.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cmp_to_key
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.api.tables_schema import sync_engine
from tests.conftest import run_live_server
from tests.fixtures.servers import SqlDatabase

pytestmark = pytest.mark.slow

COLUMNS = {"i": "integer", "t": "text", "r": "float", "b": "boolean", "d": "date"}

prop_metadata = sa.MetaData()
prop = sa.Table(
    "prop", prop_metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("i", sa.Integer),
    sa.Column("t", sa.String(20)),
    sa.Column("r", sa.Double),
    sa.Column("b", sa.Boolean),
    sa.Column("d", sa.Date),
)

# -- values ------------------------------------------------------------------------------

ints = st.integers(-5, 5)
texts = st.text(alphabet="abAB01", min_size=1, max_size=4)
reals = st.integers(-8, 8).map(lambda n: n / 4)
bools = st.booleans()
dates = st.dates(min_value=dt.date(2024, 1, 1), max_value=dt.date(2024, 1, 8))
VALUES = {"i": ints, "t": texts, "r": reals, "b": bools, "d": dates}


def _nullable(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.none(), strategy)


row_values = st.fixed_dictionaries({c: _nullable(s) for c, s in VALUES.items()})
rows_strategy = st.lists(row_values, max_size=12)

COMPARE = ["$eq", "$ne", "$lt", "$lte", "$gt", "$gte"]
OPERATORS = {
    "i": [*COMPARE, "$in", "$nin", "$between", "$null", "$notNull"],
    "r": [*COMPARE, "$in", "$between", "$null", "$notNull"],
    "d": [*COMPARE, "$in", "$nin", "$between", "$null", "$notNull"],
    "b": ["$eq", "$ne", "$null", "$notNull"],
    "t": [*COMPARE, "$in", "$nin", "$contains", "$notContains", "$startsWith",
          "$endsWith", "$null", "$notNull"],
}


@dataclass(frozen=True)
class Cond:
    column: str
    op: str
    value: Any


@dataclass(frozen=True)
class Group:
    kind: str
    items: tuple[Cond | Group, ...]


@st.composite
def conditions(draw: st.DrawFn) -> Cond:
    column = draw(st.sampled_from(sorted(COLUMNS)))
    op = draw(st.sampled_from(OPERATORS[column]))
    values = VALUES[column]
    if op in ("$in", "$nin"):
        value: Any = tuple(draw(st.lists(values, min_size=1, max_size=3)))
    elif op == "$between":
        value = tuple(sorted(draw(st.lists(values, min_size=2, max_size=2))))
    elif op in ("$null", "$notNull"):
        value = None
    else:
        value = draw(values)
    return Cond(column, op, value)


groups = st.recursive(
    conditions(),
    lambda children: st.builds(Group, st.sampled_from(["$and", "$or"]),
                               st.lists(children, min_size=1, max_size=3).map(tuple)),
    max_leaves=5,
)
filters_strategy = st.one_of(
    st.none(), st.builds(Group, st.just("$and"),
                         st.lists(groups, min_size=1, max_size=2).map(tuple)))
sort_strategy = st.lists(st.tuples(st.sampled_from(sorted(COLUMNS)), st.booleans()),
                         max_size=2, unique_by=lambda s: s[0])
query_strategy = st.tuples(filters_strategy, sort_strategy,
                           st.one_of(st.none(), st.integers(1, 5)), st.integers(0, 3))

# -- the request as a query string --------------------------------------------------------


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def _params(node: Cond | Group, prefix: str) -> list[tuple[str, str]]:
    if isinstance(node, Group):
        out: list[tuple[str, str]] = []
        for index, item in enumerate(node.items):
            out += _params(item, f"{prefix}[{node.kind}][{index}]")
        return out
    key = f"{prefix}[{node.column}][{node.op}]"
    if node.op in ("$null", "$notNull"):
        return [(key, "true")]
    if isinstance(node.value, tuple):
        return [(key, ",".join(_text(v) for v in node.value))]
    return [(key, _text(node.value))]


def query_params(filters: Group | None, sort: list[tuple[str, bool]], limit: int | None,
                 offset: int) -> list[tuple[str, str]]:
    params = _params(filters, "filters") if filters is not None else []
    if sort:
        params.append(("sort", ",".join(f"{c}:{'desc' if d else 'asc'}" for c, d in sort)))
    if limit is not None:
        params.append(("limit", str(limit)))
    if offset:
        params.append(("offset", str(offset)))
    return params


# -- the reference ------------------------------------------------------------------------


def _holds(node: Cond | Group, row: dict[str, Any]) -> bool:
    if isinstance(node, Group):
        results = [_holds(i, row) for i in node.items]
        return all(results) if node.kind == "$and" else any(results)
    v, x = row[node.column], node.value
    match node.op:
        case "$null":
            return v is None
        case "$notNull":
            return v is not None
        case "$ne":
            return v is None or v != x
        case "$nin":
            return v is None or v not in x
        case "$notContains":
            return v is None or x not in v
    if v is None:
        return False
    match node.op:
        case "$eq":
            return bool(v == x)
        case "$lt":
            return bool(v < x)
        case "$lte":
            return bool(v <= x)
        case "$gt":
            return bool(v > x)
        case "$gte":
            return bool(v >= x)
        case "$in":
            return v in x
        case "$between":
            return bool(x[0] <= v <= x[1])
        case "$contains":
            return x in v
        case "$startsWith":
            return bool(v.startswith(x))
        case "$endsWith":
            return bool(v.endswith(x))
    raise AssertionError(node.op)


def reference(rows: list[dict[str, Any]], filters: Group | None, sort: list[tuple[str, bool]],
              limit: int | None, offset: int) -> list[dict[str, Any]]:
    kept = [r for r in rows if filters is None or _holds(filters, r)]

    # the primary key breaks ties, in the direction of the last sort key
    tie = ("id", sort[-1][1] if sort else False)

    def compare(a: dict[str, Any], b: dict[str, Any]) -> int:
        for column, desc in [*sort, tie]:
            x, y = a[column], b[column]
            if x == y:
                continue
            if x is None or y is None:
                # NULLs first ascending, last descending
                first = x is None
                return (-1 if first else 1) * (-1 if desc else 1)
            result = -1 if x < y else 1
            return -result if desc else result
        return 0

    kept.sort(key=cmp_to_key(compare))
    end = None if limit is None else offset + limit
    return kept[offset:end]


def _normalise(row: dict[str, Any]) -> dict[str, Any]:
    out = dict(row)
    if out.get("r") is not None:
        out["r"] = float(out["r"])
    if isinstance(out.get("d"), dt.date):
        out["d"] = out["d"].isoformat()
    return out


# -- the test ----------------------------------------------------------------------------


@dataclass
class Env:
    db: SqlDatabase
    client: httpx.Client


@pytest.fixture(scope="module")
def env(sql_url: SqlDatabase, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    with sync_engine(sql_url) as engine, engine.begin() as conn:
        prop_metadata.drop_all(conn)
        prop_metadata.create_all(conn)
    with run_live_server(tmp_path_factory.mktemp("prop") / "data") as server, httpx.Client(
        base_url=server.base_url, headers={"Authorization": f"Bearer {server.token}"},
        timeout=30,
    ) as client:
        created = client.post("/v1/databases", json={"resource_id": "prop",
                                                     "url": sql_url.url})
        assert created.status_code == 201, created.text
        yield Env(db=sql_url, client=client)


@given(rows=rows_strategy, queries=st.lists(query_strategy, min_size=1, max_size=3))
@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_the_api_answers_what_the_reference_computes(env: Env, rows: list[dict[str, Any]],
                                                     queries: list[Any]) -> None:
    stored = [{"id": n + 1, **r} for n, r in enumerate(rows)]
    with sync_engine(env.db) as engine, engine.begin() as conn:
        conn.execute(prop.delete())
    if stored:
        created = env.client.post("/v1/databases/prop/tables/prop", json={"data": [
            {k: _text(v) if isinstance(v, dt.date) else v for k, v in r.items()}
            for r in stored]})
        assert created.status_code == 201, created.text
        assert [_normalise(r) for r in created.json()] == [_normalise(r) for r in stored]
    for filters, sort, limit, offset in queries:
        params = query_params(filters, sort, limit, offset)
        response = env.client.get("/v1/databases/prop/tables/prop", params=params)
        assert response.status_code == 200, (params, response.text)
        expected = reference(stored, filters, sort, limit, offset)
        got = [_normalise(r) for r in response.json()]
        assert got == [_normalise(r) for r in expected], params
