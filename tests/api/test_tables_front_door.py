"""The Tables API's read hot path (``api.fast``, prepared reads in ``services.tables``):
what the front door takes and leaves, and what a kept read must still check."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from asgi_lifespan import LifespanManager

from dbplane.api.app import create_app
from dbplane.api.errors import problem_response
from dbplane.api.fast import FrontDoor, match_tables_read
from dbplane.services import tables as svc
from tests.api import tables_schema as ts
from tests.conftest import ADMIN_TOKEN, AppHandle, make_settings
from tests.fixtures.servers import SqlDatabase

T = "/v1/databases/shop/tables"




async def _session(client: httpx.AsyncClient, grants: list[dict[str, Any]]) -> dict[str, str]:
    assert (await client.post("/v1/roles", json={"name": "reader", "grants": grants})
            ).status_code == 201
    assert (await client.post("/v1/users", json={
        "name": "R", "email": "r@example.com", "password": "reader-pass",
        "role": "reader"})).status_code == 201
    login = await client.post("/v1/auth/login", headers={"Authorization": ""}, json={
        "email": "r@example.com", "password": "reader-pass"})
    return {"Authorization": f"Bearer {login.json()['token']}"}


@pytest.mark.parametrize(("path", "expected"), [
    ("/v1/databases/shop/tables/articles", ("shop", "articles", None)),
    ("/v1/databases/shop/tables/articles/7", ("shop", "articles", "7")),
    ("/v1/databases/shop/tables/Odd Table/1", ("shop", "Odd Table", "1")),
    ("/v1/databases/shop/tables/memberships/a,b", ("shop", "memberships", "a,b")),
    ("/v1/tables/articles", (None, "articles", None)),
    ("/v1/tables/articles/3", (None, "articles", "3")),
    ("/v1/databases/shop/tables", None),
    ("/v1/databases/shop/tables/", None),
    ("/v1/databases/shop/tables/articles/", None),
    ("/v1/databases/shop/tables/articles/1/x", None),
    ("/v1/databases/shop/schema/snapshot", None),
    ("/v1/databases/shop/openapi.json", None),
    ("/v1/databases//tables/articles", None),
    ("/v1/tables", None),
    ("/v1/tables/", None),
    ("/v1/tables/a/b/c", None),
    ("/v1/databases", None),
])
def test_which_paths_the_front_door_takes(path: str, expected: Any) -> None:
    assert match_tables_read(path) == expected


def test_the_front_door_takes_gets_and_heads_below_the_root_path(
        app_handle: AppHandle) -> None:
    door = FrontDoor()
    scope: dict[str, Any] = {"type": "http", "method": "GET", "root_path": "/api",
                             "path": "/api/v1/tables/articles/1"}
    assert door.takes(scope) is None  # not running: nothing is taken
    door.ctx = app_handle.ctx
    assert door.takes(scope) == (None, "articles", "1")
    assert door.takes(scope | {"method": "HEAD"}) == (None, "articles", "1")
    assert door.takes(scope | {"method": "POST"}) is None
    assert door.takes(scope | {"type": "websocket"}) is None
    assert door.takes({"type": "lifespan"}) is None


def test_an_unexpected_error_at_the_door_is_a_logged_500_problem(
        caplog: pytest.LogCaptureFixture) -> None:
    response = problem_response(RuntimeError("boom"))
    assert response.status_code == 500
    assert response.media_type == "application/problem+json"
    assert b'"DBP-E000"' in bytes(response.body) and b"boom" not in bytes(response.body)
    assert any(r.exc_info and r.exc_info[1].args == ("boom",) for r in caplog.records)


async def test_head_and_methods_the_front_door_leaves_to_the_app(
    app_client: httpx.AsyncClient, db: SqlDatabase
) -> None:
    got = await app_client.get(f"{T}/articles/1")
    head = await app_client.head(f"{T}/articles/1")
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-length"] == str(len(got.content))
    assert head.headers["content-type"] == "application/json"
    created = await app_client.post(f"{T}/articles", json={"data": {"title": "New"}})
    assert created.status_code == 201, created.text
    # the routes' own answers where the front door takes nothing
    assert (await app_client.get(f"{T}/articles/")).status_code in (307, 404)
    assert (await app_client.get(T)).status_code == 200


async def test_front_door_errors_are_the_apps_problems(app_client: httpx.AsyncClient,
                                                      db: SqlDatabase) -> None:
    missing = await app_client.get(f"{T}/articles", headers={"Authorization": ""})
    assert missing.status_code == 401
    assert missing.headers["content-type"] == "application/problem+json"
    assert missing.json()["code"] == "DBP-A101"
    unknown = await app_client.get(f"{T}/nothing")
    assert (unknown.status_code, unknown.json()["code"]) == (404, "DBP-Q101")
    record = await app_client.get(f"{T}/articles/999")
    assert record.status_code == 404 and record.json()["table"] == "articles"
    bad_key = await app_client.get(f"{T}/articles/abc")
    assert bad_key.status_code == 400 and bad_key.json()["value"] == "abc"


async def test_a_read_kept_for_an_admin_still_checks_a_sessions_grants(
    app_client: httpx.AsyncClient, db: SqlDatabase
) -> None:
    # the admin's requests leave these reads prepared
    for path, params in [("/authors", {}), ("/articles", {"include": "author"}),
                         ("/authors/1", {}), ("/articles/1", {"include": "author"})]:
        assert (await app_client.get(T + path, params=params)).status_code == 200
    reader = await _session(app_client, [
        {"database": "shop", "table": "articles", "actions": ["read"]}])
    assert (await app_client.get(f"{T}/authors", headers=reader)).json()["code"] == "DBP-Q101"
    assert (await app_client.get(f"{T}/authors/1", headers=reader)).status_code == 404
    for path in ("/articles", "/articles/1"):
        refused = await app_client.get(T + path, params={"include": "author"},
                                       headers=reader)
        assert (refused.status_code, refused.json()["code"]) == (400, "DBP-Q107")
    assert (await app_client.get(f"{T}/articles", headers=reader)).status_code == 200


async def test_a_repeated_query_string_is_planned_once(
    app_handle: AppHandle, db: SqlDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    parsed: list[Any] = []
    real = svc.parse_table_params

    def counting(params: Any) -> Any:
        parsed.append(params)
        return real(params)

    monkeypatch.setattr(svc, "parse_table_params", counting)
    client = app_handle.client
    query = {"filters[score][$gte]": "10", "sort": "score:desc", "count": "exact"}
    first = await client.get(f"{T}/articles", params=query)
    again = await client.get(f"{T}/articles", params=query)
    assert first.content == again.content
    assert again.headers["content-range"] == first.headers["content-range"] == "0-1/2"
    for key in ("1", "2", "3"):
        assert (await client.get(f"{T}/articles/{key}")).json()["id"] == int(key)
    assert len(parsed) == 2  # the list once, the record read once for every key
    # a schema read again makes every kept read a miss
    assert (await client.post(f"{T}/reload")).status_code == 200
    assert (await client.get(f"{T}/articles", params=query)).content == first.content
    assert len(parsed) == 3


async def test_a_kept_read_follows_a_column_dropped_behind_dbplanes_back(
    app_client: httpx.AsyncClient, db: SqlDatabase
) -> None:
    before = await app_client.get(f"{T}/articles/1")
    assert "body" in before.json()
    assert (await app_client.get(f"{T}/articles")).status_code == 200
    with ts.sync_engine(db) as engine, engine.begin() as conn:
        conn.execute(sa.text("DROP VIEW article_titles"))
        conn.execute(sa.text("ALTER TABLE articles DROP COLUMN body"))
    after = await app_client.get(f"{T}/articles/1")
    assert after.status_code == 200, after.text
    assert "body" not in after.json() and after.json()["title"] == before.json()["title"]
    rows = await app_client.get(f"{T}/articles")
    assert rows.status_code == 200, rows.text
    assert all("body" not in r for r in rows.json())


async def test_writes_follow_a_column_dropped_behind_dbplanes_back(
    app_client: httpx.AsyncClient, db: SqlDatabase
) -> None:
    assert (await app_client.get(f"{T}/articles/1")).status_code == 200  # schema kept
    with ts.sync_engine(db) as engine, engine.begin() as conn:
        conn.execute(sa.text("DROP VIEW article_titles"))
        conn.execute(sa.text("ALTER TABLE articles DROP COLUMN body"))
    # the insert itself names no dropped column, the record read back after it does
    created = await app_client.post(f"{T}/articles", json={"data": {"title": "Fresh"}})
    assert created.status_code == 201, created.text
    assert "body" not in created.json()
    refused = await app_client.post(f"{T}/articles", json={"data": {"title": "x",
                                                                     "body": "y"}})
    assert (refused.status_code, refused.json()["column"]) == (400, "body"), refused.text
    assert ts.count_rows(db, ts.articles) == 4


async def test_a_column_added_behind_dbplanes_back_is_seen_within_the_cache_time(
    tmp_path: Path, sql_url: SqlDatabase
) -> None:
    # nothing names the new column: only the periodic version check can find it
    ts.reset(sql_url)
    app = create_app(make_settings(tmp_path / "data", cache_seconds=0.05))
    async with LifespanManager(app) as manager, httpx.AsyncClient(
            transport=httpx.ASGITransport(app=manager.app), base_url="http://dbplane.test",
            headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}) as client:
        assert (await client.post("/v1/databases", json={
            "resource_id": "shop", "url": sql_url.url})).status_code == 201
        assert "extra" not in (await client.get(f"{T}/articles/1")).json()
        with ts.sync_engine(sql_url) as engine, engine.begin() as conn:
            conn.execute(sa.text("ALTER TABLE articles ADD COLUMN extra INTEGER"))
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            record = (await client.get(f"{T}/articles/1")).json()
            if "extra" in record:
                break
            await asyncio.sleep(0.02)
        assert record["extra"] is None, record
        rows = (await client.get(f"{T}/articles")).json()
        assert all("extra" in r for r in rows)


async def test_exact_counts_follow_other_clients_writes(app_client: httpx.AsyncClient,
                                                       db: SqlDatabase) -> None:
    # PostgreSQL keeps a total with the snapshot it was counted in: what others commit,
    # and only that, must show in the next total
    query = {"count": "exact", "limit": "1", "filters[score][$notNull]": "true"}

    async def total() -> int:
        response = await app_client.get(f"{T}/articles", params=query)
        assert response.status_code == 200, response.text
        return int(response.headers["content-range"].rpartition("/")[2])

    assert await total() == await total() == 2
    with ts.sync_engine(db) as engine:
        with engine.begin() as conn:
            conn.execute(sa.insert(ts.articles).values(title="Other", score=7))
        assert await total() == await total() == 3
        if db.engine != "sqlite":  # a writer in progress (SQLite's would lock readers)
            with engine.connect() as conn:
                trans = conn.begin()
                conn.execute(sa.delete(ts.articles).where(ts.articles.c.title == "Other"))
                assert await total() == 3  # not committed yet
                trans.commit()
            assert await total() == 2
