"""``db.backups.verify`` against the live server, sync and async, on a PostgreSQL
database: a drill's operation, the backup's verification, the database's setting and its
last verified backup; the scratch database is gone afterwards."""

from __future__ import annotations

import re
import uuid

import pytest

from dbplane import ApiClient, AsyncApiClient
from dbplane.client.operations import AsyncOperation, Operation
from dbplane.errors import BackupNotFound
from tests.fixtures.servers import SqlDatabase, pg_admin


def _exists(scratch: str) -> bool:
    with pg_admin() as conn:
        return bool(conn.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                                 (scratch,)).fetchall())


async def test_verify_sync_and_async(client: ApiClient, aclient: AsyncApiClient,
                                     pg_url: SqlDatabase) -> None:
    with pg_admin(pg_url.name) as conn:
        conn.execute("DROP TABLE IF EXISTS drilled")
        conn.execute("CREATE TABLE drilled (id int PRIMARY KEY, name text)")
        conn.execute("INSERT INTO drilled VALUES (1, 'one'), (2, NULL)")
    name = f"cdrill-{uuid.uuid4().hex[:8]}"
    db = client.databases.create(name, url=pg_url.url, restore_drills_enabled=True)
    assert db["restore_drills_enabled"] is True and db["last_verified_backup"] is None
    try:
        backup = db.backups.create(wait=True)
        assert isinstance(backup, dict)
        verified = db.backups.verify(backup["id"], wait=True)
        assert isinstance(verified, dict)
        assert verified["verification"] == {"status": "passed", "differences": []}
        op = db.backups.verify(backup["id"])
        assert isinstance(op, Operation) and op["type"] == "backup.verify"
        op.wait(timeout=60)
        assert op["result"]["status"] == "passed"
        found = re.search(r"/(dbplane_drill_[0-9a-f]+)", " ".join(op["log"]))
        assert found is not None, op["log"]
        assert not _exists(found.group(1))
        with pytest.raises(BackupNotFound):
            db.backups.verify("no-such-backup")

        adb = await aclient.databases.get(name)
        started = await adb.backups.verify(backup["id"])
        assert isinstance(started, AsyncOperation)
        await started.wait(timeout=60)
        shown = await adb.backups.verify(backup["id"], wait=True)
        assert isinstance(shown, dict) and shown["verification"]["status"] == "passed"
        again = await aclient.databases.update(name, restore_drills_enabled=False)
        assert again["restore_drills_enabled"] is False
        assert again["last_verified_backup"]["id"] == backup["id"]
    finally:
        client.databases.delete(name)
