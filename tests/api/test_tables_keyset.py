"""Keyset pagination (``after=``, ``Link: rel="next"``) through the real app, on SQLite,
PostgreSQL and MariaDB."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.fixtures.servers import SqlDatabase

T = "/v1/databases/shop/tables"


def _next(response: httpx.Response) -> str | None:
    link = response.headers.get("link")
    if link is None:
        return None
    match = re.fullmatch(r'<([^>]+)>; rel="next"', link)
    assert match, link
    return match.group(1)


@pytest.mark.parametrize("sort", ["score:desc", "score", "title:desc,score", "id"])
async def test_keyset_pages_cover_every_row_once_while_rows_are_inserted(
        app_client: httpx.AsyncClient, db: SqlDatabase, sort: str) -> None:
    seed = [{"title": f"t{i % 7}", "score": None if i % 5 == 0 else (i * 37) % 50,
             "author_id": 1} for i in range(40)]
    assert (await app_client.post(f"{T}/articles", json={"data": seed})).status_code == 201
    before = {r["id"] for r in (await app_client.get(f"{T}/articles",
                                                      params={"limit": 1000})).json()}
    seen: list[int] = []
    url: str | None = f"{T}/articles?sort={sort}&limit=6&after="
    inserted: set[int] = set()
    pages = 0
    while url is not None:
        page = await app_client.get(url)
        assert page.status_code == 200, page.text
        seen += [r["id"] for r in page.json()]
        url = _next(page)
        pages += 1
        # rows inserted between pages: those sorting before the cursor are not seen,
        # those after it are, and no row is seen twice
        extra = await app_client.post(f"{T}/articles", json={"data": [
            {"title": f"n{pages}", "score": (pages * 13) % 50, "author_id": 2},
            {"title": "t0", "score": None, "author_id": 2}]})
        inserted |= {r["id"] for r in extra.json()}
        assert pages < 100
    assert len(seen) == len(set(seen)), "a row was seen twice"
    assert before <= set(seen), "a row that was there from the start was missed"
    assert set(seen) <= before | inserted


async def test_bad_cursors_are_400_naming_after(app_client: httpx.AsyncClient,
                                                db: SqlDatabase) -> None:
    first = await app_client.get(f"{T}/articles", params={"sort": "score", "limit": 1,
                                                          "after": ""})
    cursor = _next(first)
    assert cursor is not None
    after = cursor.split("after=")[1]
    for params in ({"after": "not-a-cursor"}, {"after": after, "sort": "title"},
                   {"after": after, "sort": "score", "offset": "1"}):
        bad = await app_client.get(f"{T}/articles", params=params)
        assert bad.status_code == 400, bad.text
        assert bad.json()["parameter"] == "after"
    narrow = await app_client.get(f"{T}/articles", params={"after": "", "fields": "title"})
    assert narrow.status_code == 400 and narrow.json()["parameter"] == "fields"
    last = await app_client.get(f"{T}/articles", params={"after": "", "limit": 100})
    assert last.status_code == 200 and "link" not in last.headers
