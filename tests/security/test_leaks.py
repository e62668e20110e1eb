"""Leaks to non-admin users: a database the session has no grant on answers exactly as an
unknown one, and the name of a table it may not read is never shown."""

from __future__ import annotations

import sqlite3
import uuid
from pathlib import Path

import httpx


async def _session(client: httpx.AsyncClient, grants: list[dict[str, object]]) -> dict[str, str]:
    role = f"r{uuid.uuid4().hex[:8]}"
    assert (await client.post("/v1/roles", json={"name": role, "grants": grants})
            ).status_code == 201
    email = f"{role}@example.com"
    assert (await client.post("/v1/users", json={
        "name": "K", "email": email, "password": "correct horse", "role": role})
            ).status_code == 201
    login = await client.post("/v1/auth/login", json={"email": email,
                                                      "password": "correct horse"},
                              headers={"Authorization": ""})
    return {"Authorization": f"Bearer {login.json()['token']}"}


def _file(path: Path) -> str:
    con = sqlite3.connect(path)
    con.executescript("""
        CREATE TABLE people (id INTEGER PRIMARY KEY, name TEXT);
        CREATE TABLE posts (id INTEGER PRIMARY KEY, title TEXT,
                            author_id INTEGER REFERENCES people(id));
        INSERT INTO people VALUES (1, 'ada'); INSERT INTO posts VALUES (1, 'hi', 1);
    """)
    con.close()
    return f"sqlite:///{path}"


async def test_an_ungranted_database_answers_as_an_unknown_one(
        app_client: httpx.AsyncClient, tmp_path: Path) -> None:
    for name in ("mine", "secret"):
        assert (await app_client.post("/v1/databases", json={
            "resource_id": name, "url": _file(tmp_path / f"{name}.db")})).status_code == 201
    auth = await _session(app_client, [{"database": "mine", "table": "*",
                                        "actions": ["read", "create"]}])
    probes = [("GET", "/tables"), ("GET", "/openapi.json"), ("POST", "/tables/reload"),
              ("GET", "/tables/posts"), ("GET", "/tables/posts/1"),
              ("POST", "/tables/posts"), ("PATCH", "/tables/posts/1"),
              ("DELETE", "/tables/posts/1")]
    for method, tail in probes:
        kw = {"json": {"data": {"title": "x"}}} if method in ("POST", "PATCH") \
            and "reload" not in tail else {}
        secret = await app_client.request(method, f"/v1/databases/secret{tail}",
                                          headers=auth, **kw)
        unknown = await app_client.request(method, f"/v1/databases/nosuch{tail}",
                                           headers=auth, **kw)
        assert secret.status_code == unknown.status_code == 404, (tail, secret.text)
        assert secret.json()["code"] == unknown.json()["code"]
        assert secret.text.replace("secret", "nosuch") == unknown.text, tail
    mine = await app_client.get("/v1/databases/mine/tables", headers=auth)
    assert mine.status_code == 200 and "posts" in mine.text


async def test_a_table_without_a_grant_is_never_named(app_client: httpx.AsyncClient,
                                                      tmp_path: Path) -> None:
    assert (await app_client.post("/v1/databases", json={
        "resource_id": "blog", "url": _file(tmp_path / "blog.db")})).status_code == 201
    auth = await _session(app_client, [{"database": "blog", "table": "posts",
                                        "actions": ["read"]}])
    tables = await app_client.get("/v1/databases/blog/tables", headers=auth)
    assert tables.status_code == 200
    assert "people" not in tables.text, tables.text
    for include in ("nope", "people", "author"):
        answer = await app_client.get("/v1/databases/blog/tables/posts",
                                      params={"include": include}, headers=auth)
        assert answer.status_code == 400, answer.text
        assert "people" not in answer.json()["detail"].replace(f"'{include}'", "")
        assert "people" not in str(answer.json().get("valid")), answer.text
    admin = await app_client.get("/v1/databases/blog/tables/posts",
                                 params={"include": "nope"})
    assert "author" in admin.text or "people" in admin.text
