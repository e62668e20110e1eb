"""The seeds' own paths: SonicJS ``/v1/{table}``, Scalingo ``/api/databases/{id}``,
Directus's ``include=author`` on a key column named for its relation, and a 404 that
says where the user probably meant to go."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

import httpx
import pytest
import sqlalchemy as sa

from tests.conftest import AppHandle
from tests.fixtures.servers import SqlDatabase


def _sync_url(db: SqlDatabase) -> str:
    if db.engine == "sqlite":
        return f"sqlite:///{db.name}"
    if db.engine == "postgresql":
        return db.url.replace("postgresql://", "postgresql+psycopg://")
    return db.url.replace("mysql://", "mysql+pymysql://")


@pytest.fixture
def blog(sql_url: SqlDatabase) -> Iterator[SqlDatabase]:
    engine = sa.create_engine(_sync_url(sql_url))
    with engine.begin() as conn:
        for stmt in ("DROP TABLE IF EXISTS posts", "DROP TABLE IF EXISTS people",
                     "CREATE TABLE people (id INTEGER PRIMARY KEY, name VARCHAR(20))",
                     "CREATE TABLE posts (id INTEGER PRIMARY KEY, title VARCHAR(20), "
                     "author INTEGER REFERENCES people(id))",
                     "INSERT INTO people VALUES (1, 'ada')",
                     "INSERT INTO posts VALUES (1, 'hello', 1)",
                     "INSERT INTO posts VALUES (2, 'orphan', NULL)"):
            conn.execute(sa.text(stmt))
    yield sql_url
    engine.dispose()


async def test_include_names_a_key_column_and_replaces_it(app_client: httpx.AsyncClient,
                                                          blog: SqlDatabase) -> None:
    assert (await app_client.post("/v1/databases", json={
        "resource_id": "blog", "url": blog.url})).status_code == 201
    rows = await app_client.get("/v1/databases/blog/tables/posts",
                                params={"include": "author", "sort": "id"})
    assert rows.status_code == 200, rows.text
    assert rows.json() == [
        {"id": 1, "title": "hello", "author": {"id": 1, "name": "ada"}},
        {"id": 2, "title": "orphan", "author": None}]
    one = await app_client.get("/v1/databases/blog/tables/posts/1",
                               params={"include": "author"})
    assert one.json() == {"id": 1, "title": "hello", "author": {"id": 1, "name": "ada"}}
    plain = await app_client.get("/v1/databases/blog/tables/posts/1")
    assert plain.json()["author"] == 1


async def test_sonicjs_paths_serve_the_default_databases_tables(
        app_handle: AppHandle) -> None:
    client = app_handle.client
    con = sqlite3.connect(app_handle.ctx.settings.embedded_dir / "default.db")
    con.executescript("CREATE TABLE categories (id INTEGER PRIMARY KEY, title TEXT);"
                      "INSERT INTO categories VALUES (1, 'hello'), (2, 'other');"
                      "CREATE TABLE users (id INTEGER PRIMARY KEY, nick TEXT);")
    con.close()
    await client.post("/v1/tables/reload")
    rows = await client.get("/v1/categories", params={"filters[title][$eq]": "hello"})
    assert rows.status_code == 200, rows.text
    assert rows.json() == [{"id": 1, "title": "hello"}]
    one = await client.get("/v1/categories/2")
    assert one.json() == {"id": 2, "title": "other"}
    made = await client.post("/v1/categories", json={"data": {"title": "new"}})
    assert made.status_code == 201 and made.json()["title"] == "new"
    # dbplane's own resource names take precedence over a table of the same name
    users = await client.get("/v1/users")
    assert users.status_code == 200 and "nick" not in users.text


async def test_scalingo_paths_are_aliases(app_client: httpx.AsyncClient) -> None:
    one = await app_client.get("/api/databases/default")
    assert one.status_code == 200
    assert one.json() == (await app_client.get("/v1/databases/default")).json()
    backups = await app_client.get("/api/databases/default/backups")
    assert backups.status_code == 200 and "database_backups" in backups.json()
    patched = await app_client.patch("/api/databases/default", json={})
    assert patched.status_code in (200, 422), patched.text


async def test_an_unknown_path_suggests_where_to_go(app_client: httpx.AsyncClient) -> None:
    answer = await app_client.get("/databases/default")
    assert answer.status_code == 404
    assert "/v1/databases/default" in answer.json()["suggestions"]
    typo = await app_client.get("/v1/databse/default/x")
    assert "/v1/databases/default/x" in typo.json()["suggestions"], typo.text
    assert "did you mean" in typo.json()["detail"]
