"""Restore drills (POST .../backups/{id}/verify) through the real app on every type that
has them: a good backup passes; a tampered one (its archive rewritten so one row or key
differs, its checksum fixed so that only the drill can tell) fails naming the table or
key; the live database is untouched in both cases; the scratch copy is gone."""

from __future__ import annotations

import hashlib
import re
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis

from dbplane.meta import backups_queries as bq
from tests.api.test_backups import backup, restore, sqlite_exec, wait_op
from tests.conftest import AppHandle
from tests.fixtures.servers import PrivateRedis, SqlDatabase, mysql_admin, pg_admin

TYPES = ("sqlite", "postgresql", "mysql", "redis")
REDIS_DB = 13


@dataclass
class Live:
    """A database registered in dbplane as ``drill``, with ways to change and read it."""

    change: Callable[[], None]
    content: Callable[[], Any]
    scratch_left: Callable[[str], bool]
    """Whether the scratch copy the drill's log names (its redacted URL) still exists."""
    entry: str


def _scratch_url(op: dict[str, Any]) -> str:
    found = re.search(r"scratch copy (\S+)", " ".join(op["log"]))
    assert found is not None, op["log"]
    return found.group(1)


def _pg(url: SqlDatabase) -> Live:
    with pg_admin(url.name) as conn:  # the database is the module's: tables afresh
        conn.execute("DROP TABLE IF EXISTS items, other")
        conn.execute("CREATE TABLE items (id int PRIMARY KEY, name text)")
        conn.execute("CREATE TABLE other (id int)")
        conn.execute("INSERT INTO items SELECT g, 'n' || g FROM generate_series(1, 50) g")

    def change() -> None:
        with pg_admin(url.name) as conn:
            conn.execute("UPDATE items SET name = 'changed' WHERE id = 7")

    def content() -> Any:
        with pg_admin(url.name) as conn:
            return conn.execute("SELECT * FROM items ORDER BY id").fetchall()

    def left(url: str) -> bool:
        name = url.rsplit("/", 1)[1]
        assert name.startswith("dbplane_drill_")
        with pg_admin() as conn:
            return bool(conn.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                                     (name,)).fetchall())

    return Live(change, content, left, "public.items")


def _my(url: SqlDatabase) -> Live:
    def run(sql: str, database: str | None = url.name) -> Any:
        conn = mysql_admin(database)
        try:
            with conn.cursor() as cur:
                cur.execute(sql)
                rows = cur.fetchall()
            conn.commit()
            return rows
        finally:
            conn.close()

    run("DROP TABLE IF EXISTS items")  # the database is the module's: a table afresh
    run("CREATE TABLE items (id int PRIMARY KEY, name varchar(20), price double)")
    run("INSERT INTO items VALUES " + ", ".join(f"({i}, 'n{i}', {i}.5)" for i in range(1, 51))
        + ", (51, NULL, NULL)")
    return Live(lambda: run("UPDATE items SET name = 'changed' WHERE id = 7"),
                lambda: run("SELECT * FROM items ORDER BY id"),
                lambda url: bool(run("SHOW DATABASES LIKE '"
                                     + url.rsplit("/", 1)[1].replace("_", "\\_") + "'",
                                     None)), "items")


def _redis(client: redis.Redis) -> Live:
    client.set("s", "value")
    client.rpush("l", *[str(i) for i in range(2500)])
    client.sadd("set", "a", "b", "c")
    client.hset("h", mapping={"f": "1", "g": "2"})
    client.zadd("z", {"m": 1.5, "n": 2})
    client.xadd("st", {"k": "v"})

    def content() -> Any:
        return sorted((k, client.type(k)) for k in client.scan_iter())

    def left(url: str) -> bool:
        port = int(url.rsplit(":", 1)[1].split("/")[0])
        try:
            redis.Redis(port=port, socket_connect_timeout=1).ping()
        except redis.ConnectionError:
            return False
        except redis.RedisError:
            return True  # it answers (asking for its password)
        return True

    return Live(lambda: client.hset("h", "f", "changed"), content, left, f"db{REDIS_DB}")


@pytest.fixture(params=TYPES)
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def redis_client(private_redis: PrivateRedis) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(private_redis.url(db=REDIS_DB))
    client.config_set("repl-diskless-sync-delay", "0")
    client.flushdb()
    yield client
    client.flushdb()
    client.close()


@pytest.fixture
async def live(kind: str, app_handle: AppHandle, request: pytest.FixtureRequest) -> Live:
    client = app_handle.client
    if kind == "sqlite":
        answer = await client.post("/v1/databases", json={"resource_id": "drill"})
        path = app_handle.ctx.settings.embedded_dir / "drill.db"
        sqlite_exec(path, "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT, b BLOB)",
                    "CREATE TABLE other (x REAL)",
                    "INSERT INTO items VALUES (1, 'a', x'00ff'), (2, NULL, NULL), "
                    "(3, 'c', x'')", "INSERT INTO other VALUES (1.25)")

        def content() -> Any:
            con = sqlite3.connect(path)
            try:
                return con.execute("SELECT * FROM items ORDER BY id").fetchall()
            finally:
                con.close()

        def left(url: str) -> bool:
            scratch = Path(url.removeprefix("sqlite:///"))
            assert scratch.parent.name.startswith("dbplane-drill-")
            return scratch.parent.exists()

        made = Live(lambda: sqlite_exec(path, "UPDATE items SET name = 'z' WHERE id = 3"),
                    content, left, "items")
    else:
        if kind == "redis":
            url = request.getfixturevalue("private_redis").url(db=REDIS_DB)
            made = _redis(request.getfixturevalue("redis_client"))
        else:
            db: SqlDatabase = request.getfixturevalue("pg_url" if kind == "postgresql"
                                                      else "mysql_url")
            url = db.url
            made = _pg(db) if kind == "postgresql" else _my(db)
        answer = await client.post("/v1/databases", json={"resource_id": "drill",
                                                          "url": url})
    assert answer.status_code == 201, answer.text
    return made


async def verify(app_handle: AppHandle, backup_id: str) -> dict[str, Any]:
    answer = await app_handle.client.post(f"/v1/databases/drill/backups/{backup_id}/verify")
    assert answer.status_code == 202, answer.text
    assert answer.headers["location"] == f"/v1/operations/{answer.json()['id']}"
    op = await wait_op(app_handle.client, answer.headers["location"], 120)
    assert op["status"] == "done", op
    assert op["type"] == "backup.verify"
    assert [s["name"] for s in op["steps"]] == ["check", "restore", "fingerprint",
                                               "compare", "record"]
    assert all(s["duration_ms"] is not None for s in op["steps"]), op["steps"]
    return op


async def test_a_good_backup_passes_and_a_tampered_one_fails(
        kind: str, live: Live, app_handle: AppHandle) -> None:
    client, ctx = app_handle.client, app_handle.ctx
    good = await backup(client, "drill")
    async with ctx.meta.connect() as conn:
        row = await bq.get_backup(conn, good["database_id"], good["id"])
    assert row is not None and row.fingerprint is not None and live.entry in row.fingerprint
    assert good["verified_at"] is None and good["verification"] is None

    content = live.content()
    op = await verify(app_handle, good["id"])
    assert op["result"]["status"] == "passed", op
    shown = (await client.get(f"/v1/databases/drill/backups/{good['id']}")).json()
    assert shown["database_backup"]["verification"] == {"status": "passed",
                                                        "differences": []}
    assert shown["database_backup"]["verified_at"] is not None
    db = (await client.get("/v1/databases/drill")).json()["database"]
    assert db["last_verified_backup"]["id"] == good["id"]
    assert db["last_verified_backup"]["status"] == "passed"
    assert live.content() == content  # the live database is untouched
    assert not live.scratch_left(_scratch_url(op))  # the scratch copy is gone

    # tamper: the good backup's archive is replaced by one of the database with one row
    # (key) changed, and its recorded checksum fixed: only the drill can tell
    live.change()
    changed = await backup(client, "drill")
    assert changed["verification"] is None
    folder = ctx.settings.backups_dir / good["database_id"]
    good_file = next(folder.glob(f"{good['id']}.*"))
    changed_file = next(folder.glob(f"{changed['id']}.*"))
    data = changed_file.read_bytes()
    good_file.write_bytes(data)
    async with ctx.meta.begin() as conn:
        await bq.update_backup(conn, good["id"], {
            "checksum": "sha256:" + hashlib.sha256(data).hexdigest()})
    content = live.content()
    op = await verify(app_handle, good["id"])
    assert op["result"]["status"] == "failed", op
    names = [d["name"] for d in op["result"]["differences"]]
    assert names == [live.entry], op["result"]
    shown = (await client.get(f"/v1/databases/drill/backups/{good['id']}")).json()
    verification = shown["database_backup"]["verification"]
    assert verification["status"] == "failed"
    assert verification["differences"][0]["problem"] == "different"
    db = (await client.get("/v1/databases/drill")).json()["database"]
    assert db["last_verified_backup"] == {
        "id": good["id"], "status": "failed",
        "verified_at": shown["database_backup"]["verified_at"]}
    assert live.content() == content
    assert not live.scratch_left(_scratch_url(op))


async def test_a_changed_archive_is_refused_at_restore_on_every_type(
        kind: str, live: Live, app_handle: AppHandle) -> None:
    """A restore checks the archive while the type prepares; every type waits for the
    checks before it changes anything: a byte changed on disk leaves the database as
    it is."""
    client, ctx = app_handle.client, app_handle.ctx
    made = await backup(client, "drill")
    live.change()
    content = live.content()
    archive = next((ctx.settings.backups_dir / made["database_id"]).glob(f"{made['id']}.*"))
    data = bytearray(archive.read_bytes())
    data[len(data) // 2] ^= 0x01
    archive.write_bytes(bytes(data))
    op = await restore(client, "drill", made["id"])
    assert op["status"] == "error" and op["error"]["code"] == "DBP-B202", op
    assert op["steps"][0]["name"] == "verify"
    assert live.content() == content  # not restored: the change is still there
