"""CSV export (``export=csv``, ``Accept: text/csv``) through the real app, on SQLite,
PostgreSQL and MariaDB; a million rows in bounded memory."""

from __future__ import annotations

import csv
import io
import sqlite3
import tracemalloc
from pathlib import Path

import httpx
import pytest

from dbplane.services.auth import authenticate
from dbplane.services.table_export import export_csv
from tests.api import tables_schema as ts
from tests.conftest import ADMIN_TOKEN, AppHandle
from tests.fixtures.servers import SqlDatabase

T = "/v1/databases/shop/tables"


def _csv(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


async def test_export_follows_filters_and_sort(app_client: httpx.AsyncClient,
                                               db: SqlDatabase) -> None:
    rows = [{"title": f"t,{i}\n\"q\"", "score": i, "author_id": 1} for i in range(2500)]
    assert (await app_client.post(f"{T}/articles", json={"data": rows})).status_code == 201
    got = await app_client.get(f"{T}/articles", params={
        "export": "csv", "filters[score][$gte]": "10", "sort": "score:desc",
        "fields": "title,score"})
    assert got.status_code == 200, got.text
    assert got.headers["content-type"].startswith("text/csv")
    table = _csv(got.text)
    assert table[0] == ["title", "score"]
    body = table[1:]
    scores = [int(r[1]) for r in body]
    assert scores == sorted(scores, reverse=True) and min(scores) >= 10
    assert len(body) == 2500 - 10 + 2  # the seeded 10 and 30
    assert ["t,2499\n\"q\"", "2499"] in body
    accepted = await app_client.get(f"{T}/articles", headers={"Accept": "text/csv"},
                                    params={"limit": "2"})
    assert _csv(accepted.text)[0] == [c.name for c in ts.articles.columns]
    assert len(_csv(accepted.text)) == 3
    nulls = _csv((await app_client.get(f"{T}/articles", params={
        "export": "csv", "filters[title][$eq]": "Notes"})).text)
    assert nulls[1][nulls[0].index("published")] == ""


@pytest.mark.parametrize(("params", "parameter"), [
    ({"export": "xml"}, "export"), ({"export": "csv", "include": "author"}, "include"),
    ({"export": "csv", "offset": "3"}, "offset"), ({"export": "csv", "sort": "nope"}, None),
])
async def test_bad_exports_are_4xx_naming_the_parameter(
        app_client: httpx.AsyncClient, db: SqlDatabase, params: dict[str, str],
        parameter: str | None) -> None:
    bad = await app_client.get(f"{T}/articles", params=params)
    assert bad.status_code == 400, bad.text
    assert bad.headers["content-type"] == "application/problem+json"
    if parameter is not None:
        assert bad.json()["parameter"] == parameter


@pytest.mark.slow
async def test_a_million_rows_export_in_bounded_memory(app_handle: AppHandle,
                                                       tmp_path: Path) -> None:
    path = tmp_path / "big.db"
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE big (id INTEGER PRIMARY KEY, name TEXT, n INTEGER)")
    con.execute("WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s "
                "WHERE i < 1000000) INSERT INTO big SELECT i, 'name ' || i, i % 97 FROM s")
    con.commit()
    con.close()
    client = app_handle.client
    created = await client.post("/v1/databases", json={"resource_id": "big",
                                                       "url": f"sqlite:///{path}"})
    assert created.status_code == 201, created.text
    ctx = app_handle.ctx
    admin = await authenticate(ctx, f"Bearer {ADMIN_TOKEN}")
    # the export itself, chunk by chunk (the in-process transport would buffer the body)
    tracemalloc.start()
    export = await export_csv(ctx, admin, "big", "big", b"export=csv")
    lines = 0
    size = 0
    last = b""
    async for chunk in export.chunks:
        lines += chunk.count(b"\n")
        size += len(chunk)
        last = chunk[-40:]
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert lines == 1_000_001
    assert last.endswith(b"1000000,name 1000000,27\r\n")
    assert size > 20_000_000
    assert peak < 8 * 2**20, f"peak {peak / 2**20:.1f} MiB for a {size / 2**20:.0f} MiB export"
    streamed = await client.get("/v1/databases/big/tables/big",
                                params={"export": "csv", "filters[id][$gt]": "999990"})
    assert len(_csv(streamed.text)) == 11
