"""``db.pitr_window()`` and ``db.pitr_restore(time, wait=True)`` on a real managed
PostgreSQL with wal-archiving on, and the errors the client raises."""

from __future__ import annotations

import subprocess
import time
from datetime import UTC, datetime

import httpx
import pytest

from dbplane import ApiClient, AsyncApiClient
from dbplane.client.databases import Database
from dbplane.errors import RestoreTimeInvalid, RestoreTimeOutsideWindow, Unsupported
from tests.conftest import LiveServer
from tests.fixtures.servers import PG_BIN
from tests.fixtures.services import unique_name
from tests.managed.conftest import need_tools


def with_pitr(client: ApiClient, base_url: str, token: str, prefix: str) -> Database:
    """A managed PostgreSQL with wal-archiving on and a table ``t``."""
    need_tools()
    rid = unique_name(prefix)
    db = client.databases.create(rid, type_name="postgresql", mode="managed")
    answer = httpx.post(f"{base_url}/v1/databases/{rid}/features",
                        headers={"Authorization": f"Bearer {token}"},
                        json={"feature": {"name": "wal-archiving"}}, timeout=60).json()
    deployment = db.deployments.get(answer["deployment_id"])
    client.operations.get(deployment["operation_id"]).wait(timeout=120)
    db.action("list-databases")
    sql(client, rid, "CREATE TABLE t (id int PRIMARY KEY)")
    return db


def sql(client: ApiClient, rid: str, statement: str) -> list[str]:
    """Run ``statement`` on the managed server over its socket, as its user (peer)."""
    db = client.databases.get(rid)
    out = subprocess.run(["runuser", "-u", "postgres", "--", str(PG_BIN / "psql"), "-h",
                          db["managed"]["data_directory"], "-p", str(db["managed"]["port"]),
                          "-U", "postgres", "-d", rid, "-At", "-v", "ON_ERROR_STOP=1",
                          "-c", statement], capture_output=True, text=True, check=True)
    return out.stdout.split()


def test_window_and_restore_through_the_client(client: ApiClient,
                                                live_server: LiveServer) -> None:
    db = with_pitr(client, live_server.base_url, live_server.token, "pitrc")
    rid = db["resource_id"]
    sql(client, rid, "INSERT INTO t VALUES (1)")
    time.sleep(0.2)
    target = datetime.now(UTC)
    time.sleep(0.2)
    sql(client, rid, "INSERT INTO t VALUES (2)")
    window = db.pitr_window()
    assert window["earliest"] < target.isoformat().replace("+00:00", "Z") < window["latest"]
    with pytest.raises(RestoreTimeOutsideWindow) as info:
        db.pitr_restore("2001-01-01T00:00:00Z")
    assert window["earliest"] in str(info.value)
    with pytest.raises(RestoreTimeInvalid):
        db.pitr_restore("not a time")
    op = db.pitr_restore(target, wait=True, timeout=120)
    assert op["status"] == "done" and op["type"] == "managed.pitr_restore"
    assert sql(client, rid, "SELECT id FROM t ORDER BY id") == ["1"]
    client.databases.delete(rid, purge=True)


async def test_the_async_client_refuses_a_database_not_managed(
        aclient: AsyncApiClient) -> None:
    db = await aclient.databases.get("default")
    with pytest.raises(Unsupported) as info:
        await db.pitr_window()
    assert "postgresql" in str(info.value)
    with pytest.raises(Unsupported):
        await db.pitr_restore("2020-01-01T00:00:00Z")
