"""``db.backups`` against the live server: create and wait, download, upload, restore,
delete, sync and async, on a PostgreSQL database (pg_dump / pg_restore)."""

from __future__ import annotations

import hashlib
import uuid
from pathlib import Path

import pytest

from dbplane import ApiClient, AsyncApiClient
from dbplane.client.operations import AsyncOperation, Operation
from dbplane.errors import ArchiveInvalid, BackupNotFound, OperationConflict
from tests.fixtures.servers import SqlDatabase, pg_admin


def _rows(db: SqlDatabase) -> list[tuple[object, ...]]:
    with pg_admin(db.name) as conn:
        return conn.execute("SELECT id, name FROM items ORDER BY id").fetchall()


def test_backup_download_upload_restore(client: ApiClient, pg_url: SqlDatabase,
                                        tmp_path: Path) -> None:
    with pg_admin(pg_url.name) as conn:
        conn.execute("DROP TABLE IF EXISTS items")
        conn.execute("CREATE TABLE items (id int PRIMARY KEY, name text)")
        conn.execute("INSERT INTO items VALUES (1, 'one'), (2, 'two')")
    name = f"cb-{uuid.uuid4().hex[:8]}"
    db = client.databases.create(name, url=pg_url.url)
    try:
        backup = db.backups.create(wait=True)
        assert isinstance(backup, dict) and backup["status"] == "done"
        assert backup["format"] == "pg-custom"
        assert [b["id"] for b in db.backups.list()] == [backup["id"]]

        written = db.backups.download(backup["id"], tmp_path)
        assert written.parent == tmp_path and written.read_bytes()[:5] == b"PGDMP"
        digest = hashlib.sha256(written.read_bytes()).hexdigest()
        assert backup["checksum"] == f"sha256:{digest}"

        with pg_admin(pg_url.name) as conn:
            conn.execute("DELETE FROM items WHERE id = 1")
            conn.execute("UPDATE items SET name = 'changed'")
        op = db.backups.restore(backup["id"], wait=True)
        assert isinstance(op, Operation) and op["status"] == "done"
        assert _rows(pg_url) == [(1, "one"), (2, "two")]

        with pytest.raises(ArchiveInvalid):
            db.backups.upload(b"not an archive")
        uploaded = db.backups.upload(written, checksum=backup["checksum"])
        assert uploaded["method"] == "upload" and uploaded["checksum"] == backup["checksum"]

        started = db.backups.create()
        assert isinstance(started, Operation)
        with pytest.raises(OperationConflict):
            db.backups.restore(uploaded["id"])
        started.wait(timeout=60)

        db.backups.delete(uploaded["id"])
        with pytest.raises(BackupNotFound):
            db.backups.get(uploaded["id"])
    finally:
        client.databases.delete(db)


async def test_async_backups(aclient: AsyncApiClient, tmp_path: Path) -> None:
    name = f"ab-{uuid.uuid4().hex[:8]}"
    db = await aclient.databases.create(name)
    try:
        op = await db.backups.create()
        assert isinstance(op, AsyncOperation)
        await op.wait(timeout=60)
        backup = await db.backups.get(str(op["params"]["backup_id"]))
        assert backup["status"] == "done" and backup["type"] == "sqlite"
        path = await db.backups.download(backup["id"], tmp_path / "copy.sqlite3")
        assert path.read_bytes()[:15] == b"SQLite format 3"
        restored = await db.backups.restore(backup["id"], wait=True)
        assert restored["status"] == "done"
        uploaded = await db.backups.upload(path)
        assert uploaded["size"] == backup["size"]
        await db.backups.delete(backup["id"])
        assert [b["id"] for b in await db.backups.list()] == [uploaded["id"]]
    finally:
        await aclient.databases.delete(db)
