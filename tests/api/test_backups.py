"""/v1/databases/{db}/backups through the real app: a manual backup, its archive, restore,
upload, delete, the 409 of overlapping work and the database's ``backing-up`` status."""

from __future__ import annotations

import asyncio
import hashlib
import sqlite3
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from dbplane.services import operations
from tests.conftest import AppHandle
from tests.fixtures.servers import SqlDatabase, pg_admin


async def wait_op(client: httpx.AsyncClient, location: str, seconds: float = 60
                  ) -> dict[str, Any]:
    for _ in range(int(seconds / 0.05)):
        op = (await client.get(location)).json()
        if op["status"] not in ("pending", "running"):
            return op
        await asyncio.sleep(0.05)
    raise AssertionError(f"{location} did not end")


async def backup(client: httpx.AsyncClient, db: str) -> dict[str, Any]:
    answer = await client.post(f"/v1/databases/{db}/backups")
    assert answer.status_code == 202, answer.text
    op = await wait_op(client, answer.headers["location"])
    assert op["status"] == "done", op
    got = await client.get(f"/v1/databases/{db}/backups/{op['params']['backup_id']}")
    body: dict[str, Any] = got.json()["database_backup"]
    return body


async def restore(client: httpx.AsyncClient, db: str, backup_id: str) -> dict[str, Any]:
    answer = await client.post(f"/v1/databases/{db}/backups/{backup_id}/restore")
    assert answer.status_code == 202, answer.text
    assert answer.headers["location"] == f"/v1/operations/{answer.json()['id']}"
    return await wait_op(client, answer.headers["location"])


def sqlite_rows(path: Path) -> list[tuple[Any, ...]]:
    con = sqlite3.connect(path)
    try:
        return con.execute("SELECT id, name FROM t ORDER BY id").fetchall()
    finally:
        con.close()


def sqlite_exec(path: Path, *sql: str) -> None:
    con = sqlite3.connect(path)
    try:
        for statement in sql:
            con.execute(statement)
        con.commit()
    finally:
        con.close()


@pytest.fixture
async def embedded(app_handle: AppHandle) -> Path:
    answer = await app_handle.client.post("/v1/databases", json={"resource_id": "bk"})
    assert answer.status_code == 201, answer.text
    path = app_handle.ctx.settings.embedded_dir / "bk.db"
    sqlite_exec(path, "CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT)",
                "INSERT INTO t VALUES (1, 'a'), (2, 'b'), (3, 'c')")
    return path


async def test_backup_download_restore_delete(app_handle: AppHandle, embedded: Path) -> None:
    client = app_handle.client
    made = await backup(client, "bk")
    assert made["status"] == "done" and made["method"] == "manual"
    assert made["type"] == "sqlite" and made["size"] > 0
    assert made["checksum"].startswith("sha256:") and made["name"].endswith("_bk")
    listed = (await client.get("/v1/databases/bk/backups")).json()["database_backups"]
    assert [b["id"] for b in listed] == [made["id"]]

    archive = await client.get(f"/v1/databases/bk/backups/{made['id']}/archive")
    assert archive.status_code == 200
    assert "sha256:" + hashlib.sha256(archive.content).hexdigest() == made["checksum"]
    assert archive.headers["x-checksum"] == made["checksum"]

    sqlite_exec(embedded, "DELETE FROM t WHERE id = 2", "UPDATE t SET name = 'z'")
    op = await restore(client, "bk", made["id"])
    assert op["status"] == "done", op
    assert [s["name"] for s in op["steps"]] == ["verify", "restore"]
    assert sqlite_rows(embedded) == [(1, "a"), (2, "b"), (3, "c")]
    # the Tables API sees the restored rows (its pool and schema cache were dropped)
    rows = (await client.get("/v1/databases/bk/tables/t")).json()
    assert len(rows) == 3

    assert (await client.delete(f"/v1/databases/bk/backups/{made['id']}")).status_code == 204
    missing = await client.get(f"/v1/databases/bk/backups/{made['id']}")
    assert missing.status_code == 404 and missing.json()["code"] == "DBP-B101"
    assert not list((app_handle.ctx.settings.backups_dir).rglob("*.sqlite3"))


async def test_a_changed_archive_is_refused_at_restore(app_handle: AppHandle,
                                                       embedded: Path) -> None:
    client = app_handle.client
    made = await backup(client, "bk")
    files = list(app_handle.ctx.settings.backups_dir.rglob("*.sqlite3"))
    assert len(files) == 1
    data = bytearray(files[0].read_bytes())
    data[-100] ^= 0x01
    files[0].write_bytes(bytes(data))
    sqlite_exec(embedded, "DELETE FROM t")
    op = await restore(client, "bk", made["id"])
    assert op["status"] == "error"
    assert op["error"]["code"] == "DBP-B202"
    assert sqlite_rows(embedded) == []


async def test_upload_checks_the_archive_before_keeping_it(app_handle: AppHandle,
                                                           embedded: Path,
                                                           tmp_path: Path) -> None:
    client = app_handle.client
    source = tmp_path / "elsewhere.db"
    sqlite_exec(source, "CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT)",
                "INSERT INTO t VALUES (7, 'uploaded')")
    content = source.read_bytes()
    digest = hashlib.sha256(content).hexdigest()

    junk = await client.post("/v1/databases/bk/backups/upload",
                             files={"file": ("x.dump", b"PGDMP\x01\x0e junk")})
    assert junk.status_code == 422 and junk.json()["code"] == "DBP-B201"
    wrong = await client.post("/v1/databases/bk/backups/upload",
                              files={"file": ("x.db", content)},
                              data={"checksum": "sha256:" + "0" * 64})
    assert wrong.status_code == 422 and wrong.json()["code"] == "DBP-B202"
    assert (await client.get("/v1/databases/bk/backups")).json()["database_backups"] == []
    assert not [p for p in app_handle.ctx.settings.backups_dir.rglob("*") if p.is_file()]

    answer = await client.post("/v1/databases/bk/backups/upload",
                               files={"file": ("x.db", content)},
                               data={"checksum": f"sha256:{digest}"})
    assert answer.status_code == 201, answer.text
    uploaded = answer.json()["database_backup"]
    assert uploaded["method"] == "upload" and uploaded["status"] == "done"
    assert uploaded["checksum"] == f"sha256:{digest}"
    op = await restore(client, "bk", uploaded["id"])
    assert op["status"] == "done", op
    assert sqlite_rows(embedded) == [(7, "uploaded")]


async def test_overlapping_work_is_refused_and_the_status_says_backing_up(
        app_handle: AppHandle, embedded: Path) -> None:
    client = app_handle.client
    made = await backup(client, "bk")
    await operations.stop(app_handle.ctx)  # no worker: what is started stays pending
    try:
        first = await client.post("/v1/databases/bk/backups")
        assert first.status_code == 202
        db = (await client.get("/v1/databases/bk")).json()["database"]
        assert db["status"] == "backing-up"
        for attempt in (client.post("/v1/databases/bk/backups"),
                        client.post(f"/v1/databases/bk/backups/{made['id']}/restore")):
            answer = await attempt
            assert answer.status_code == 409
            assert first.json()["id"] in answer.json()["detail"]
        pending = first.json()["params"]["backup_id"]
        busy = await client.delete(f"/v1/databases/bk/backups/{pending}")
        assert busy.status_code == 409 and busy.json()["code"] == "DBP-B302"
        not_ready = await client.post(f"/v1/databases/bk/backups/{pending}/restore")
        assert not_ready.status_code == 409 and not_ready.json()["code"] == "DBP-B301"
    finally:
        await operations.start(app_handle.ctx)
    op = await wait_op(client, f"/v1/operations/{first.json()['id']}")
    assert op["status"] == "done"
    db = (await client.get("/v1/databases/bk")).json()["database"]
    assert db["status"] == "running"


async def test_a_failed_backup_leaves_no_archive(app_handle: AppHandle,
                                                 pg_url: SqlDatabase) -> None:
    client = app_handle.client
    created = await client.post("/v1/databases", json={"resource_id": "gone",
                                                        "url": pg_url.url})
    assert created.status_code == 201
    with pg_admin() as conn:  # the server now refuses new connections to it
        conn.execute(f'ALTER DATABASE "{pg_url.name}" ALLOW_CONNECTIONS false')
    try:
        answer = await client.post("/v1/databases/gone/backups")
        op = await wait_op(client, answer.headers["location"])
    finally:
        with pg_admin() as conn:
            conn.execute(f'ALTER DATABASE "{pg_url.name}" ALLOW_CONNECTIONS true')
    assert op["status"] == "error" and op["error"]["code"] == "DBP-B401"
    listed = (await client.get("/v1/databases/gone/backups")).json()["database_backups"]
    assert [b["status"] for b in listed] == ["error"]
    assert listed[0]["checksum"] is None and listed[0]["size"] is None
    assert not [p for p in app_handle.ctx.settings.backups_dir.rglob("*") if p.is_file()]
    refused = await client.get(f"/v1/databases/gone/backups/{listed[0]['id']}/archive")
    assert refused.status_code == 409


async def test_backups_are_admin_only(app_handle: AppHandle, embedded: Path) -> None:
    anonymous = await app_handle.client.get("/v1/databases/bk/backups",
                                            headers={"Authorization": ""})
    assert anonymous.status_code == 401
    unknown = await app_handle.client.get("/v1/databases/nope/backups")
    assert unknown.status_code == 404 and unknown.json()["code"] == "DBP-D101"


async def test_a_canceled_backup_stops_its_tool_and_leaves_no_archive(
        app_handle: AppHandle) -> None:
    from tests.fixtures.servers import start_redis, stop_process

    server, port = start_redis()  # waits 10 s before it streams a snapshot to redis-cli
    try:
        admin = redis.Redis(host="127.0.0.1", port=port)
        admin.config_set("repl-diskless-sync-delay", "10")
        admin.close()
        client = app_handle.client
        await client.post("/v1/databases", json={"resource_id": "slow",
                                                 "url": f"redis://127.0.0.1:{port}/0"})
        started = (await client.post("/v1/databases/slow/backups")).json()
        for _ in range(200):
            op = (await client.get(f"/v1/operations/{started['id']}")).json()
            if op["status"] == "running":
                break
            await asyncio.sleep(0.05)
        canceled = await client.post(f"/v1/operations/{started['id']}/cancel")
        assert canceled.status_code == 202
        op = await wait_op(client, f"/v1/operations/{started['id']}", seconds=8)
        assert op["status"] == "canceled"
        listed = (await client.get("/v1/databases/slow/backups")).json()["database_backups"]
        assert [b["status"] for b in listed] == ["error"]
        assert not [p for p in app_handle.ctx.settings.backups_dir.rglob("*") if p.is_file()]
        assert "redis-cli" not in _children_commands()
    finally:
        stop_process(server)


def _children_commands() -> str:
    """The command names of this process's child processes (from /proc)."""
    import os

    names = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # "pid (comm) state ppid ..."
        comm = stat[stat.index("(") + 1: stat.rindex(")")]
        ppid = int(stat[stat.rindex(")") + 2:].split()[1])
        if ppid == os.getpid():
            names.append(comm)
    return " ".join(names)
