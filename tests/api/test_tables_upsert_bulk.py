"""Upserts, write preferences and bulk updates and deletes by filter, through the real
app, on SQLite, PostgreSQL and MariaDB."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from tests.api import tables_schema as ts
from tests.fixtures.servers import SqlDatabase

T = "/v1/databases/shop/tables"


def _problem(response: httpx.Response, status: int, code: str,
             parameter: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["code"] == code, body
    if parameter is not None:
        assert body.get("parameter") == parameter, body
    return body


def _table(db: SqlDatabase, table: sa.Table) -> list[tuple[Any, ...]]:
    with ts.sync_engine(db) as engine, engine.connect() as conn:
        pk = list(table.primary_key.columns)
        return [tuple(r) for r in conn.execute(sa.select(table).order_by(*pk))]


MERGE = {"Prefer": "resolution=merge-duplicates"}
IGNORE = {"Prefer": "resolution=ignore-duplicates"}


async def test_upsert_twice_gives_the_same_table(app_client: httpx.AsyncClient,
                                                 db: SqlDatabase) -> None:
    rows = [{"org": "acme", "member": "bob", "role": "admin"},
            {"org": "acme", "member": "eve", "role": "viewer"}]
    first = await app_client.post(f"{T}/memberships", json={"data": rows}, headers=MERGE)
    assert first.status_code == 201, first.text
    assert [r["role"] for r in first.json()] == ["admin", "viewer"]
    after_one = _table(db, ts.memberships)
    again = await app_client.post(f"{T}/memberships", json={"data": rows}, headers=MERGE)
    assert again.status_code == 201, again.text
    assert _table(db, ts.memberships) == after_one
    assert ("acme", "bob", "admin") in after_one and len(after_one) == 3


async def test_an_upsert_naming_one_key_twice_is_4xx_and_writes_nothing(
        app_client: httpx.AsyncClient, db: SqlDatabase) -> None:
    rows = [{"org": "x", "member": "y", "role": "a"}, {"org": "x", "member": "y", "role": "b"}]
    answer = await app_client.post(f"{T}/memberships", json={"data": rows}, headers=MERGE)
    if db.engine == "postgresql":  # a row cannot be changed twice by one statement
        assert answer.status_code == 400, answer.text
        assert ts.count_rows(db, ts.memberships) == 2
    else:  # SQLite and MariaDB apply the rows in order: the last one wins
        assert answer.status_code == 201, answer.text
        assert ("x", "y", "b") in _table(db, ts.memberships)


async def test_upsert_on_a_unique_column_merges_or_ignores(app_client: httpx.AsyncClient,
                                                           db: SqlDatabase) -> None:
    ignored = await app_client.post(f"{T}/authors", params={"on_conflict": "name"},
                                    json={"data": [{"name": "Ada"}, {"name": "Linus"}]},
                                    headers=IGNORE)
    assert ignored.status_code == 201, ignored.text
    assert "Linus" in [r["name"] for r in ignored.json()]
    assert ts.count_rows(db, ts.authors) == 3
    merged = await app_client.post(f"{T}/articles", json={"data": {
        "id": 1, "title": "Engines, again", "author_id": 1}}, headers=MERGE)
    assert merged.status_code == 201, merged.text
    assert merged.json()["title"] == "Engines, again"
    assert merged.json()["body"] == "about engines"  # columns not given stay
    assert ts.count_rows(db, ts.articles) == 3


@pytest.mark.parametrize(("params", "headers", "status", "code", "parameter"), [
    ({"on_conflict": "title"}, MERGE, 400, "DBP-Q106", "on_conflict"),
    ({"on_conflict": "titel"}, MERGE, 400, "DBP-Q102", None),
    ({"on_conflict": "title"}, {}, 400, "DBP-Q106", "on_conflict"),
    ({"on_conflict": ""}, MERGE, 400, "DBP-Q106", "on_conflict"),
    ({}, {"Prefer": "resolution=sideways"}, 400, "DBP-Q106", "Prefer"),
    ({}, {"Prefer": "return=everything"}, 400, "DBP-Q106", "Prefer"),
    ({"limit": "3"}, {}, 400, "DBP-Q106", "limit"),
    ({"filters[id][$eq]": "1"}, {}, 400, "DBP-Q106", "filters"),
])
async def test_bad_upserts_and_preferences_are_4xx_naming_the_parameter(
        app_client: httpx.AsyncClient, db: SqlDatabase, params: dict[str, str],
        headers: dict[str, str], status: int, code: str, parameter: str | None) -> None:
    before = _table(db, ts.articles)
    response = await app_client.post(f"{T}/articles", params=params, headers=headers,
                                     json={"data": {"title": "Engines", "author_id": 1}})
    _problem(response, status, code, parameter)
    assert _table(db, ts.articles) == before


async def test_return_minimal_answers_location_only(app_client: httpx.AsyncClient,
                                                    db: SqlDatabase) -> None:
    created = await app_client.post(f"{T}/articles", json={"data": {
        "title": "Quiet", "author_id": 2}}, headers={"Prefer": "return=minimal"})
    assert created.status_code == 201 and created.content == b""
    location = created.headers["location"]
    assert location.startswith(f"{T}/articles/")
    assert (await app_client.get(location)).json()["title"] == "Quiet"
    patched = await app_client.patch(location, json={"data": {"score": 1}},
                                      headers={"Prefer": "return=minimal"})
    assert patched.status_code == 204 and patched.content == b""
    many = await app_client.post(f"{T}/authors", json={"data": [{"name": "x"}]},
                                 headers={"Prefer": "return=representation, missing=default"})
    assert many.status_code == 201 and many.json()[0]["name"] == "x"


async def test_bulk_patch_by_filter(app_client: httpx.AsyncClient, db: SqlDatabase) -> None:
    patched = await app_client.patch(f"{T}/articles", params={
        "filters[author_id][$eq]": "1"}, json={"data": {"score": 7}})
    assert patched.status_code == 200, patched.text
    assert sorted(r["id"] for r in patched.json()) == [1, 3]
    assert all(r["score"] == 7 for r in patched.json())
    assert patched.headers["content-range"] == "0-1/2"
    assert (await app_client.get(f"{T}/articles/2")).json()["score"] == 30
    counted = await app_client.patch(f"{T}/articles", params={"all": "true"},
                                     json={"data": {"published": True}},
                                     headers={"Prefer": "return=minimal"})
    assert counted.status_code == 204 and counted.headers["content-range"] == "*/3"


async def test_bulk_writes_need_filters_or_all_and_respect_max_affected(
        app_client: httpx.AsyncClient, db: SqlDatabase) -> None:
    before = _table(db, ts.articles)
    _problem(await app_client.patch(f"{T}/articles", json={"data": {"score": 1}}),
             400, "DBP-Q106", "filters")
    _problem(await app_client.delete(f"{T}/articles"), 400, "DBP-Q106", "filters")
    _problem(await app_client.delete(f"{T}/articles", params={"all": "yes"}),
             400, "DBP-Q106", "all")
    _problem(await app_client.patch(f"{T}/articles", params={"filters[titel][$eq]": "x"},
                                    json={"data": {"score": 1}}), 400, "DBP-Q102")
    _problem(await app_client.patch(f"{T}/articles", params={"filters[author_id][$eq]": "1"},
                                    json={"data": {"score": 1}},
                                    headers={"Prefer": "max-affected=1"}),
             400, "DBP-Q121", "Prefer")
    _problem(await app_client.delete(f"{T}/articles", params={"all": "true"},
                                     headers={"Prefer": "max-affected=2"}),
             400, "DBP-Q121", "Prefer")
    _problem(await app_client.patch(f"{T}/articles", params={"all": "true"},
                                    json={"data": {"score": 1}},
                                    headers={"Prefer": "max-affected=many"}),
             400, "DBP-Q106", "Prefer")
    assert _table(db, ts.articles) == before


async def test_a_bulk_update_with_a_failing_row_changes_nothing(
        app_client: httpx.AsyncClient, db: SqlDatabase) -> None:
    before = _table(db, ts.articles)
    # every article gets the same title: fine; one author's name clash: a unique key
    clash = await app_client.patch(f"{T}/authors", params={"all": "true"},
                                   json={"data": {"name": "same"}})
    _problem(clash, 409, "DBP-Q202")
    dangling = await app_client.patch(f"{T}/articles", params={"filters[score][$gt]": "5"},
                                      json={"data": {"author_id": 999}})
    _problem(dangling, 409, "DBP-Q203")
    assert _table(db, ts.articles) == before
    assert ts.count_rows(db, ts.authors) == 2


async def test_bulk_delete_by_filter(app_client: httpx.AsyncClient, db: SqlDatabase) -> None:
    shown = await app_client.delete(f"{T}/articles", params={"filters[title][$eq]": "Notes"},
                                    headers={"Prefer": "return=representation"})
    assert shown.status_code == 200, shown.text
    assert [r["title"] for r in shown.json()] == ["Notes"]
    gone = await app_client.delete(f"{T}/articles", params={"filters[score][$lt]": "100"})
    assert gone.status_code == 204 and gone.headers["content-range"] == "*/2"
    assert ts.count_rows(db, ts.articles) == 0


async def test_bulk_writes_enforce_grants(app_client: httpx.AsyncClient,
                                          db: SqlDatabase) -> None:
    await app_client.post("/v1/roles", json={"name": "reader", "grants": [
        {"database": "shop", "table": "articles", "actions": ["read"]}]})
    await app_client.post("/v1/users", json={"name": "R", "email": "r@example.com",
                                             "password": "reader-pass", "role": "reader"})
    token = (await app_client.post("/v1/auth/login", headers={"Authorization": ""}, json={
        "email": "r@example.com", "password": "reader-pass"})).json()["token"]
    as_reader = {"Authorization": f"Bearer {token}"}
    before = _table(db, ts.articles)
    _problem(await app_client.patch(f"{T}/articles", params={"all": "true"},
                                    json={"data": {"score": 1}}, headers=as_reader),
             403, "DBP-A202")
    _problem(await app_client.delete(f"{T}/articles", params={"all": "true"},
                                     headers=as_reader), 403, "DBP-A202")
    _problem(await app_client.post(f"{T}/articles", json={"data": {"id": 1, "title": "x"}},
                                   headers={**as_reader, **MERGE}), 403, "DBP-A202")
    _problem(await app_client.delete(f"{T}/authors", params={"all": "true"},
                                     headers=as_reader), 404, "DBP-Q101")
    assert _table(db, ts.articles) == before
