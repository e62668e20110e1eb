"""``count=planned`` and ``count=estimated`` through the real app, on SQLite, PostgreSQL
and MariaDB."""

from __future__ import annotations

import re

import httpx

from tests.conftest import AppHandle
from tests.fixtures.servers import SqlDatabase

T = "/v1/databases/shop/tables"


def _total(response: httpx.Response) -> int:
    assert response.status_code == 200, response.text
    match = re.fullmatch(r"(\*|\d+-\d+)/(\d+)", response.headers["content-range"])
    assert match, response.headers["content-range"]
    return int(match.group(2))


async def test_planned_and_estimated_counts(app_handle: AppHandle, db: SqlDatabase) -> None:
    client = app_handle.client
    rows = [{"title": f"t{i}", "score": i % 10, "author_id": 1} for i in range(300)]
    assert (await client.post(f"{T}/articles", json={"data": rows})).status_code == 201
    await client.post(f"{T}/reload")
    exact = _total(await client.get(f"{T}/articles", params={"count": "exact"}))
    assert exact == 303
    planned = _total(await client.get(f"{T}/articles", params={"count": "planned",
                                                               "limit": "5"}))
    assert planned >= 0  # the planner's guess: SQLite counts, the others estimate
    if db.engine == "sqlite":
        assert planned == exact
    # below the threshold (DBPLANE_TABLES_MAX_LIMIT) estimated is exact
    filtered = await client.get(f"{T}/articles", params={
        "count": "estimated", "filters[score][$eq]": "3", "limit": "2"})
    assert _total(filtered) == 30
    assert filtered.headers["content-range"] == "0-1/30"
    bad = await client.get(f"{T}/articles", params={"count": "roughly"})
    assert bad.status_code == 400 and bad.json()["parameter"] == "count"
