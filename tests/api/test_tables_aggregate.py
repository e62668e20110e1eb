"""Aggregates, grouping and distinct (Directus's syntax) through the real app, on SQLite,
PostgreSQL and MariaDB, checked against the same SQL written by hand."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.api import tables_schema as ts
from tests.fixtures.servers import SqlDatabase

T = "/v1/databases/shop/tables"


async def _get(client: httpx.AsyncClient, params: dict[str, str] | list[tuple[str, str]]
               ) -> Any:
    response = await client.get(f"{T}/articles", params=params)
    assert response.status_code == 200, response.text
    return response.json()


async def test_count_sum_and_groups(app_client: httpx.AsyncClient, db: SqlDatabase) -> None:
    assert await _get(app_client, {"aggregate[count]": "*"}) == [{"count": 3}]
    assert await _get(app_client, {"aggregate[sum]": "score",
                                   "aggregate[max]": "title"}) == [
        {"sum": {"score": 40}, "max": {"title": "Notes"}}]
    grouped = await _get(app_client, [("aggregate[count]", "*"), ("groupBy[]", "author_id"),
                                      ("aggregate[countDistinct]", "published"),
                                      ("sort", "count:desc")])
    assert grouped == [{"author_id": 1, "count": 2, "countDistinct": {"published": 1}},
                       {"author_id": 2, "count": 1, "countDistinct": {"published": 1}}]
    filtered = await _get(app_client, {"aggregate[avg]": "score", "groupBy": "author_id",
                                       "filters[score][$notNull]": "true", "limit": "1"})
    assert len(filtered) == 1 and filtered[0]["author_id"] == 1
    assert float(filtered[0]["avg"]["score"]) == 10.0
    assert await _get(app_client, {"distinct": "author_id", "sort": "author_id:desc"}) == [
        {"author_id": 2}, {"author_id": 1}]


@pytest.mark.parametrize(("params", "parameter"), [
    ({"aggregate[median]": "score"}, "aggregate[median]"),
    ({"aggregate[sum]": "title"}, "aggregate[sum]"),
    ({"aggregate[sum]": "*"}, "aggregate[sum]"),
    ({"aggregate[count]": "*", "sort": "score"}, "sort"),
    ({"aggregate[count]": "*", "fields": "id"}, "fields"),
    ({"distinct": "title", "groupBy": "score"}, "distinct"),
    ({"distinct": ""}, "distinct"),
])
async def test_bad_aggregates_are_400_naming_the_parameter(
        app_client: httpx.AsyncClient, db: SqlDatabase, params: dict[str, str],
        parameter: str) -> None:
    response = await app_client.get(f"{T}/articles", params=params)
    assert response.status_code == 400, response.text
    assert response.json()["parameter"] == parameter
    unknown = await app_client.get(f"{T}/articles", params={"aggregate[max]": "titel"})
    assert unknown.status_code == 400 and unknown.json()["code"] == "DBP-Q102"


_FILTERS = st.sampled_from([
    None, ("score", "$gt", "5"), ("score", "$lte", "20"), ("author_id", "$eq", "1"),
    ("title", "$startsWith", "C"), ("published", "$eq", "true")])
_GROUPS = st.sampled_from([(), ("author_id",), ("published",), ("author_id", "published")])
_AGGS = st.lists(st.sampled_from([("count", "*"), ("sum", "score"), ("min", "score"),
                                  ("max", "score"), ("countDistinct", "author_id")]),
                 min_size=0, max_size=3, unique=True)
_SQL_FILTERS = {"$gt": ">", "$lte": "<=", "$eq": "="}


def _hand_sql(db: SqlDatabase, flt: Any, groups: tuple[str, ...],
              aggs: list[tuple[str, str]]) -> list[dict[str, Any]]:
    a = ts.articles
    cols: list[Any] = [a.c[g] for g in groups]
    for fn, col in aggs:
        if col == "*":
            cols.append(sa.func.count())
        elif fn == "countDistinct":
            cols.append(sa.func.count(sa.distinct(a.c[col])))
        else:
            cols.append(getattr(sa.func, fn)(a.c[col]))
    query = sa.select(*cols).select_from(a)
    if flt is not None:
        col, op, value = flt
        if op == "$startsWith":
            query = query.where(a.c[col].like(f"{value}%"))
        elif col == "published":
            query = query.where(a.c[col] == (value == "true"))
        else:
            query = query.where(a.c[col].op(_SQL_FILTERS[op])(int(value)))
    if groups:
        query = query.group_by(*(a.c[g] for g in groups))
    with ts.sync_engine(db) as engine, engine.connect() as conn:
        out = []
        for row in conn.execute(query):
            item: dict[str, Any] = {}
            for g, v in zip(groups, row, strict=False):
                item[g] = bool(v) if g == "published" and v is not None else v
            for (fn, col), v in zip(aggs, row[len(groups):], strict=True):
                if col == "*":
                    item["count"] = v
                else:
                    item.setdefault(fn, {})[col] = None if v is None else int(v)
            out.append(item)
    return out


def _key(row: dict[str, Any]) -> str:
    return repr(sorted((k, repr(v)) for k, v in row.items()))


@settings(deadline=None, suppress_health_check=list(HealthCheck), max_examples=15)
@given(flt=_FILTERS, groups=_GROUPS, aggs=_AGGS)
async def test_aggregates_equal_the_same_sql_by_hand(
        app_client: httpx.AsyncClient, db: SqlDatabase, flt: Any, groups: tuple[str, ...],
        aggs: list[tuple[str, str]]) -> None:
    if not groups and not aggs:
        return
    params: list[tuple[str, str]] = [(f"aggregate[{fn}]", col) for fn, col in aggs]
    params += [("groupBy[]", g) for g in groups]
    if flt is not None:
        params.append((f"filters[{flt[0]}][{flt[1]}]", flt[2]))
    got = await _get(app_client, params)
    for row in got:
        for fn, col in aggs:
            if col != "*" and row[fn][col] is not None:
                row[fn][col] = int(row[fn][col])
    expected = _hand_sql(db, flt, groups, aggs)
    assert sorted(map(_key, got)) == sorted(map(_key, expected)), params
