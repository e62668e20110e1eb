"""Point-in-time restore on real managed PostgreSQL servers: the window from base backups
and the archived WAL, a restore between two writes, the refusals (nothing changes)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg

from tests.conftest import AppHandle
from tests.fixtures.servers import SqlDatabase
from tests.managed.conftest import provision, wait_operation


async def _url(app: AppHandle, name: str) -> str:
    from dbplane.services.databases import resolve_database

    row = await resolve_database(app.ctx, name)
    return app.ctx.secrets.decrypt(row.url_secret)


async def _sql(url: str, sql: str) -> list[Any]:
    conn = await asyncpg.connect(url)
    try:
        return list(await conn.fetch(sql))
    finally:
        await conn.close()


async def _with_pitr(app: AppHandle, name: str) -> str:
    """A managed PostgreSQL with wal-archiving on (its first base backup taken)."""
    await provision(app.client, name, "postgresql")
    answer = (await app.client.post(f"/v1/databases/{name}/features", json={
        "feature": {"name": "wal-archiving"}})).json()
    deployment = (await app.client.get(
        f"/v1/databases/{name}/deployments/{answer['deployment_id']}")).json()
    await wait_operation(app.client, deployment["operation_id"])
    url = await _url(app, name)
    await _sql(url, "CREATE TABLE t (id int PRIMARY KEY, v text)")
    return url


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


async def test_restore_between_two_writes_brings_back_the_first(
        managed_app: AppHandle) -> None:
    client = managed_app.client
    url = await _with_pitr(managed_app, "pitr")
    await _sql(url, "INSERT INTO t VALUES (1, 'first')")
    await asyncio.sleep(0.3)
    target = _now()
    await asyncio.sleep(0.3)
    await _sql(url, "INSERT INTO t VALUES (2, 'second')")
    window = (await client.get("/v1/databases/pitr/pitr")).json()
    assert window["earliest"] < target < window["latest"], window
    old_dir = (await client.get("/v1/databases/pitr")).json()["database"]
    response = await client.post("/v1/databases/pitr/pitr/restore",
                                 json={"restore_time": target})
    assert response.status_code == 201, response.text
    assert set(response.json()) == {"operation_id"}
    op_id = response.json()["operation_id"]
    assert response.headers["location"] == f"/v1/operations/{op_id}"
    status = (await client.get("/v1/databases/pitr")).json()["database"]["status"]
    op = await wait_operation(client, op_id, 120)
    assert op["status"] == "done", op
    assert status == "restoring"  # from the moment it is accepted
    steps = [s["name"] for s in op["steps"]]
    assert "recover to the target" in steps and "verify" in steps
    assert [tuple(r) for r in await _sql(url, "SELECT id, v FROM t ORDER BY id")] == \
        [(1, "first")]
    db = (await client.get("/v1/databases/pitr")).json()["database"]
    assert db["status"] == "running"
    assert op["result"]["timeline"] >= 2
    from dbplane.services import managed

    handle = await managed.handle_for(managed_app.ctx, await _row(managed_app, "pitr"))
    assert handle.record.layout["data_dir"] == op["result"]["data_dir"]
    assert not (handle.record.kept or {}).get("pitr")
    assert not (Path(old_dir["managed"]["data_directory"]) / "data").exists()
    # writes go on on the new timeline, and a new window starts there
    await _sql(url, "INSERT INTO t VALUES (3, 'after')")
    window = (await client.get("/v1/databases/pitr/pitr")).json()
    assert window["timeline"] == op["result"]["timeline"]


async def _row(app: AppHandle, name: str) -> Any:
    from dbplane.services.databases import resolve_database

    return await resolve_database(app.ctx, name)


async def test_refusals_change_nothing(managed_app: AppHandle) -> None:
    client = managed_app.client
    url = await _with_pitr(managed_app, "refuse")
    await _sql(url, "INSERT INTO t VALUES (1, 'kept')")
    window = (await client.get("/v1/databases/refuse/pitr")).json()
    outside = "2001-01-01T00:00:00Z"
    answer = await client.post("/v1/databases/refuse/pitr/restore",
                               json={"restore_time": outside})
    assert answer.status_code == 422, answer.text
    problem = answer.json()
    assert problem["code"] == "DBP-P102"
    assert window["earliest"] in problem["detail"] and "window" in problem["detail"]
    for bad in ("yesterday", "2024-13-01T00:00:00Z", "2024-01-01T00:00:00", 12):
        answer = await client.post("/v1/databases/refuse/pitr/restore",
                                   json={"restore_time": bad})
        assert answer.status_code == 422, (bad, answer.text)
        assert answer.json()["code"] == "DBP-P101", answer.text
    # the Scalingo path is the same resource
    answer = await client.post("/api/databases/refuse/pitr/restore",
                               json={"restore_time": outside})
    assert answer.json()["code"] == "DBP-P102"
    ops = (await client.get("/v1/operations", params={"database": "refuse"})).json()
    assert not [o for o in ops["operations"] if o["type"] == "managed.pitr_restore"]
    assert [tuple(r) for r in await _sql(url, "SELECT id, v FROM t")] == [(1, "kept")]


async def test_a_missing_segment_shortens_the_window(managed_app: AppHandle) -> None:
    client = managed_app.client
    url = await _with_pitr(managed_app, "gap")
    await _sql(url, "INSERT INTO t VALUES (1, 'a')")
    await _sql(url, "SELECT pg_switch_wal()")
    before = (await client.get("/v1/databases/gap/pitr")).json()
    await _sql(url, "INSERT INTO t VALUES (2, 'b')")
    middle = (await _sql(url, "SELECT pg_walfile_name(pg_current_wal_lsn()) AS s"))[0]["s"]
    await _sql(url, "SELECT pg_switch_wal()")
    await _sql(url, "INSERT INTO t VALUES (3, 'c')")
    full = (await client.get("/v1/databases/gap/pitr")).json()
    assert full["latest"] > before["latest"]
    archive = Path((await client.get("/v1/databases/gap")).json()["database"]["managed"][
        "data_directory"]) / "wal-archive"
    (archive / middle).unlink()
    short = (await client.get("/v1/databases/gap/pitr")).json()
    assert short["latest"] == before["latest"], (short, before)
    assert middle in short["archive"]["missing"]
    answer = await client.post("/v1/databases/gap/pitr/restore",
                               json={"restore_time": full["latest"]})
    assert answer.status_code == 422 and answer.json()["code"] == "DBP-P102"


async def test_not_managed_or_archiving_off_is_refused(managed_app: AppHandle,
                                                       pg_url: SqlDatabase) -> None:
    client = managed_app.client
    await client.post("/v1/databases", json={"database": {"resource_id": "ext",
                                                           "url": pg_url.url}})
    answer = await client.post("/v1/databases/ext/pitr/restore",
                               json={"restore_time": _now()})
    assert answer.status_code == 400 and answer.json()["code"] == "DBP-M102", answer.text
    answer = await client.get("/v1/databases/default/pitr")
    assert answer.status_code == 400 and answer.json()["code"] == "DBP-V102", answer.text
    assert "postgresql" in answer.json()["detail"]
    await provision(client, "plain", "postgresql")
    answer = await client.post("/v1/databases/plain/pitr/restore",
                               json={"restore_time": _now()})
    assert answer.status_code == 409 and answer.json()["code"] == "DBP-P301", answer.text
    assert "wal-archiving" in answer.json()["detail"]
