"""Restore drills' rules through the real app: what cannot be drilled is a 4xx that
changes nothing; an uploaded backup (no fingerprint) passes when it restores cleanly and
records what it found; a drill whose restore fails ends in error with its scratch database
dropped; ``restore_drills_enabled`` runs a drill after every periodic backup."""

from __future__ import annotations

import asyncio
import hashlib
import re
import sqlite3
from pathlib import Path
from typing import Any

from dbplane.meta import backups_queries as bq
from dbplane.meta.records import BackupRecord
from dbplane.services.backup_scheduler import run_scheduler
from dbplane.services.operations import list_operations
from tests.api.test_backups import backup, sqlite_exec, wait_op
from tests.conftest import AppHandle
from tests.fixtures.servers import PrivateRedis, SqlDatabase, pg_admin

HOUR = 3_600_000


def _scratch_name(op: dict[str, Any]) -> str:
    """The scratch database a drill's log names."""
    found = re.search(r"scratch copy \S+/(dbplane_drill_[0-9a-f]+)", " ".join(op["log"]))
    assert found is not None, op["log"]
    return found.group(1)


async def _embedded(app_handle: AppHandle, name: str) -> Path:
    answer = await app_handle.client.post("/v1/databases", json={"resource_id": name})
    assert answer.status_code == 201, answer.text
    path = app_handle.ctx.settings.embedded_dir / f"{name}.db"
    sqlite_exec(path, "CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT)",
                "INSERT INTO t VALUES (1, 'a'), (2, 'b')")
    return path


async def test_what_cannot_be_drilled_is_a_4xx(app_handle: AppHandle) -> None:
    client, ctx = app_handle.client, app_handle.ctx
    await _embedded(app_handle, "one")
    await _embedded(app_handle, "two")
    made = await backup(client, "one")
    other = await client.post(f"/v1/databases/two/backups/{made['id']}/verify")
    assert other.status_code == 404 and other.json()["code"] == "DBP-B101"
    missing = await client.post("/v1/databases/one/backups/nope/verify")
    assert missing.status_code == 404
    failed = BackupRecord(
        id="failedbackup", database_id=made["database_id"], name="x", method="manual",
        status="error", type_name="sqlite", format="sqlite", archive=None, size=None,
        checksum=None, operation_id=None, error={"code": "DBP-E000", "message": "x"},
        created_at=1, started_at=1, finished_at=1)
    async with ctx.meta.begin() as conn:
        await bq.insert_backup(conn, failed)
    refused = await client.post("/v1/databases/one/backups/failedbackup/verify")
    assert refused.status_code == 409 and refused.json()["code"] == "DBP-B301"
    assert not await list_operations(ctx, type_name="backup.verify")
    shown = (await client.get(f"/v1/databases/one/backups/{made['id']}")).json()
    assert shown["database_backup"]["verified_at"] is None
    unauthorized = await client.post(f"/v1/databases/one/backups/{made['id']}/verify",
                                     headers={"Authorization": "Bearer nope"})
    assert unauthorized.status_code == 401


async def test_an_uploaded_backup_passes_when_it_restores(app_handle: AppHandle) -> None:
    client = app_handle.client
    path = await _embedded(app_handle, "up")
    made = await backup(client, "up")
    archive = (await client.get(f"/v1/databases/up/backups/{made['id']}/archive")).content
    uploaded = (await client.post("/v1/databases/up/backups/upload",
                                  files={"file": ("a.sqlite3", archive)})).json()
    uploaded_id = uploaded["database_backup"]["id"]
    answer = await client.post(f"/v1/databases/up/backups/{uploaded_id}/verify")
    op = await wait_op(client, answer.headers["location"])
    assert op["status"] == "done" and op["result"]["status"] == "passed"
    shown = (await client.get(f"/v1/databases/up/backups/{uploaded_id}")).json()
    verification = shown["database_backup"]["verification"]
    assert verification["found"]["t"]["rows"] == 2
    assert "no fingerprint" in verification["note"]
    con = sqlite3.connect(path)
    assert con.execute("SELECT count(*) FROM t").fetchone() == (2,)
    con.close()


async def test_a_drill_whose_restore_fails_drops_its_scratch(
        app_handle: AppHandle, pg_url: SqlDatabase) -> None:
    client, ctx = app_handle.client, app_handle.ctx
    with pg_admin(pg_url.name) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS kept (id int)")
        conn.execute("INSERT INTO kept VALUES (1)")
    await client.post("/v1/databases", json={"resource_id": "pgfail", "url": pg_url.url})
    made = await backup(client, "pgfail")
    archive = next((ctx.settings.backups_dir / made["database_id"]).glob(f"{made['id']}.*"))
    # the table of contents stays whole (the check passes), a data block is garbled:
    # the restore into the scratch database fails
    whole = bytearray(archive.read_bytes())
    for i in range(len(whole) - 30, len(whole) - 10):
        whole[i] ^= 0x5A
    broken = bytes(whole)
    archive.write_bytes(broken)
    async with ctx.meta.begin() as conn:
        await bq.update_backup(conn, made["id"], {
            "checksum": "sha256:" + hashlib.sha256(broken).hexdigest()})
    answer = await client.post(f"/v1/databases/pgfail/backups/{made['id']}/verify")
    op = await wait_op(client, answer.headers["location"], 60)
    assert op["status"] == "error", op
    assert [(s["name"], s["status"]) for s in op["steps"]][-1] == ("restore", "error"), op
    scratch = _scratch_name(op)
    with pg_admin() as conn:
        left = conn.execute("SELECT datname FROM pg_database WHERE datname = %s",
                            (scratch,)).fetchall()
    assert left == []
    with pg_admin(pg_url.name) as conn:
        assert conn.execute("SELECT count(*) FROM kept").fetchone() == (1,)


async def test_restore_drills_enabled_drills_every_periodic_backup(
        app_handle: AppHandle) -> None:
    client, ctx = app_handle.client, app_handle.ctx
    await _embedded(app_handle, "sched")
    answer = await client.patch("/v1/databases/sched", json={"database": {
        "periodic_backups_enabled": True, "periodic_backups_scheduled_at": list(range(24)),
        "restore_drills_enabled": True}})
    db = answer.json()["database"]
    assert db["restore_drills_enabled"] is True and db["last_verified_backup"] is None
    put = await client.put("/v1/databases/sched", json={"database": {
        "restore_drills_enabled": True}})
    assert put.status_code == 200 and put.json()["database"]["restore_drills_enabled"]
    base = (int(__import__("time").time() * 1000) // HOUR + 2) * HOUR + 60_000
    started = await run_scheduler(ctx, base)
    assert len(started) == 1
    await wait_op(client, f"/v1/operations/{started[0]}")
    for _ in range(200):
        drills = await list_operations(ctx, database_id=db["id"], type_name="backup.verify")
        if drills and drills[0].status == "done":
            break
        await asyncio.sleep(0.05)
    assert len(drills) == 1 and drills[0].status == "done"
    assert drills[0].created_by == "scheduler"
    shown = (await client.get("/v1/databases/sched")).json()["database"]
    assert shown["last_verified_backup"]["status"] == "passed"
    periodic = (await client.get("/v1/databases/sched/backups")).json()["database_backups"]
    assert shown["last_verified_backup"]["id"] == periodic[0]["id"]
    assert periodic[0]["method"] == "periodic"


async def test_a_postgresql_backup_fingerprints_the_snapshot_it_dumps(
        app_handle: AppHandle, pg_url: SqlDatabase) -> None:
    """Writes go on during the backup: the fingerprint is still recorded (read in the
    snapshot pg_dump dumps) and the drill of that backup passes."""
    import threading

    client, ctx = app_handle.client, app_handle.ctx
    with pg_admin(pg_url.name) as conn:
        conn.execute("CREATE TABLE busy (id serial PRIMARY KEY, payload text)")
        conn.execute("INSERT INTO busy (payload) SELECT repeat('x', 200) "
                     "FROM generate_series(1, 50000)")
    await client.post("/v1/databases", json={"resource_id": "busy", "url": pg_url.url})
    stop = threading.Event()
    written = [0]

    def writer() -> None:
        with pg_admin(pg_url.name) as conn:
            while not stop.is_set():
                conn.execute("INSERT INTO busy (payload) VALUES ('during')")
                written[0] += 1

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        made = await backup(client, "busy")
    finally:
        stop.set()
        thread.join()
    assert written[0] > 0
    async with ctx.meta.connect() as conn:
        row = await bq.get_backup(conn, made["database_id"], made["id"])
    assert row is not None and row.fingerprint is not None
    assert 50_000 <= row.fingerprint["public.busy"]["rows"] < 50_000 + written[0]
    answer = await client.post(f"/v1/databases/busy/backups/{made['id']}/verify")
    op = await wait_op(client, answer.headers["location"], 60)
    assert op["result"]["status"] == "passed", op


async def test_a_canceled_drill_drops_its_scratch(app_handle: AppHandle,
                                                 pg_url: SqlDatabase) -> None:
    from tests.api.test_backups import _children_commands

    client = app_handle.client
    with pg_admin(pg_url.name) as conn:
        conn.execute("CREATE TABLE slow AS SELECT g AS id, repeat(md5(g::text), 8) AS v "
                     "FROM generate_series(1, 400000) g")
        conn.execute("ALTER TABLE slow ADD PRIMARY KEY (id)")
    await client.post("/v1/databases", json={"resource_id": "cancel", "url": pg_url.url})
    made = await backup(client, "cancel")
    answer = await client.post(f"/v1/databases/cancel/backups/{made['id']}/verify")
    location = answer.headers["location"]
    for _ in range(400):
        op = (await client.get(location)).json()
        if any(s["name"] == "restore" for s in op["steps"]):
            break
        await asyncio.sleep(0.02)
    assert op["status"] == "running", op
    scratch = _scratch_name(op)
    query = "SELECT count(*) FROM pg_database WHERE datname = %s"
    with pg_admin() as conn:
        assert conn.execute(query, (scratch,)).fetchone() == (1,)
    assert (await client.post(f"{location}/cancel")).status_code == 202
    op = await wait_op(client, location, 30)
    assert op["status"] == "canceled", op
    with pg_admin() as conn:
        assert conn.execute(query, (scratch,)).fetchone() == (0,)
    with pg_admin(pg_url.name) as conn:
        assert conn.execute("SELECT count(*) FROM slow").fetchone() == (400000,)
    assert "pg_restore" not in _children_commands()
    shown = (await client.get(f"/v1/databases/cancel/backups/{made['id']}")).json()
    assert shown["database_backup"]["verification"] is None


async def test_a_redis_backup_fingerprints_its_archive(app_handle: AppHandle,
                                                      private_redis: PrivateRedis) -> None:
    """Writes go on during the backup: the fingerprint is read from the RDB archive
    itself, so it is recorded and the drill passes."""
    import threading

    import redis

    client = app_handle.client
    sync = redis.Redis.from_url(private_redis.url(db=15))
    sync.config_set("repl-diskless-sync-delay", "0")
    sync.flushdb()
    sync.mset({f"k{i}": str(i) for i in range(2000)})
    await client.post("/v1/databases", json={"resource_id": "busyredis",
                                             "url": private_redis.url(db=15)})
    stop = threading.Event()
    written = [0]

    def writer() -> None:
        while not stop.is_set():
            sync.incr("counter")
            written[0] += 1

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        made = await backup(client, "busyredis")
    finally:
        stop.set()
        thread.join()
    try:
        assert written[0] > 0
        async with app_handle.ctx.meta.connect() as conn:
            row = await bq.get_backup(conn, made["database_id"], made["id"])
        assert row is not None and row.fingerprint is not None
        assert row.fingerprint["db15"]["keys"] in (2000, 2001)
        answer = await client.post(f"/v1/databases/busyredis/backups/{made['id']}/verify")
        op = await wait_op(client, answer.headers["location"], 60)
        assert op["result"]["status"] == "passed", op
    finally:
        sync.flushdb()
        sync.close()
