"""A schema apply keeps foreign keys' referential actions and AUTOINCREMENT, and a diff
taken right after applying one is empty (SQLite, whose keys are unnamed)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import httpx

SOURCE = """
CREATE TABLE people (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT);
CREATE TABLE posts (id INTEGER PRIMARY KEY AUTOINCREMENT, title TEXT,
    author_id INTEGER REFERENCES people(id) ON DELETE SET NULL ON UPDATE CASCADE,
    editor_id INTEGER REFERENCES people(id) ON DELETE CASCADE);
"""


async def test_apply_keeps_actions_and_autoincrement_and_rediff_is_empty(
        app_client: httpx.AsyncClient, tmp_path: Path) -> None:
    src, dst = tmp_path / "src.db", tmp_path / "dst.db"
    con = sqlite3.connect(src)
    con.executescript(SOURCE)
    con.close()
    sqlite3.connect(dst).close()
    for name, path in (("src", src), ("dst", dst)):
        assert (await app_client.post("/v1/databases", json={
            "resource_id": name, "url": f"sqlite:///{path}"})).status_code == 201
    snap = (await app_client.get("/v1/databases/src/schema/snapshot")).json()
    actions = {r["field"]: (r["schema"]["on_delete"], r["schema"]["on_update"])
               for r in snap["relations"]}
    assert actions == {"author_id": ("SET NULL", "CASCADE"),
                       "editor_id": ("CASCADE", "NO ACTION")}
    diff = await app_client.post("/v1/databases/dst/schema/diff", json=snap)
    assert diff.status_code == 200
    assert (await app_client.post("/v1/databases/dst/schema/apply", json=diff.json())
            ).status_code == 204
    again = await app_client.post("/v1/databases/dst/schema/diff", json=snap)
    assert again.status_code == 204, again.text
    con = sqlite3.connect(dst)
    con.execute("PRAGMA foreign_keys=ON")
    rows = con.execute("SELECT \"from\", on_update, on_delete FROM "
                       "pragma_foreign_key_list('posts') ORDER BY \"from\"").fetchall()
    assert rows == [("author_id", "CASCADE", "SET NULL"), ("editor_id", "NO ACTION", "CASCADE")]
    sql = con.execute("SELECT sql FROM sqlite_master WHERE name = 'people'").fetchone()[0]
    assert "AUTOINCREMENT" in sql.upper()
    # the actions work: deleting the author empties the key, the id is not given again
    con.execute("INSERT INTO people (name) VALUES ('ada'), ('grace')")
    con.execute("INSERT INTO posts (title, author_id) VALUES ('hi', 2)")
    con.execute("DELETE FROM people WHERE id = 2")
    assert con.execute("SELECT author_id FROM posts").fetchone() == (None,)
    con.execute("INSERT INTO people (name) VALUES ('edith')")
    assert con.execute("SELECT max(id) FROM people").fetchone() == (3,)
    con.close()
