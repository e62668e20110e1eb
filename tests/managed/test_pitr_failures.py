"""Point-in-time restore, continued: a restore that fails midway leaves the previous data
directory serving as before; base backups come with every backup, bounded in number."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.conftest import AppHandle
from tests.managed.conftest import settled, wait_operation
from tests.managed.test_pitr import _now, _row, _sql, _with_pitr


async def test_a_failed_restore_leaves_the_old_server_serving(
        managed_app: AppHandle) -> None:
    client = managed_app.client
    url = await _with_pitr(managed_app, "broken")
    await _sql(url, "INSERT INTO t VALUES (1, 'first')")
    await asyncio.sleep(0.2)
    target = _now()
    await asyncio.sleep(0.2)
    await _sql(url, "INSERT INTO t VALUES (2, 'second')")
    window = (await client.get("/v1/databases/broken/pitr")).json()
    assert window["earliest"] < target < window["latest"], window
    directory = Path((await client.get("/v1/databases/broken")).json()["database"][
        "managed"]["data_directory"])
    base = directory / "base-backups" / window["ranges"][-1]["base_backup"]
    (base / "base.tar.gz").write_bytes(b"not a tar archive")  # extraction fails
    answer = await client.post("/v1/databases/broken/pitr/restore",
                               json={"restore_time": target})
    assert answer.status_code == 201, answer.text
    op = await wait_operation(client, answer.json()["operation_id"], 120)
    assert op["status"] == "error", op
    assert op["error"]["code"] == "DBP-P401", op["error"]
    assert "previous data directory serves" in op["error"]["message"]
    from dbplane.services import managed

    handle = await managed.handle_for(managed_app.ctx, await _row(managed_app, "broken"))
    assert not (handle.record.layout or {}).get("data_dir")
    assert not (handle.record.kept or {}).get("pitr")
    assert not list(directory.glob("data-pitr-*"))  # noqa: ASYNC240
    db = (await client.get("/v1/databases/broken")).json()["database"]
    assert db["status"] == "running", db
    assert [tuple(r) for r in await _sql(url, "SELECT id, v FROM t ORDER BY id")] == \
        [(1, "first"), (2, "second")]


async def test_backups_take_base_backups_and_keep_a_bounded_number(
        managed_app: AppHandle) -> None:
    from dbplane.services.pitr import KEEP_BASE_BACKUPS

    client = managed_app.client
    await _with_pitr(managed_app, "bases")
    first = (await client.get("/v1/databases/bases/pitr")).json()
    assert len(first["base_backups"]) == 1  # taken when wal-archiving was turned on
    for _ in range(KEEP_BASE_BACKUPS):
        answer = await client.post("/v1/databases/bases/backups")
        op = await wait_operation(client, answer.json()["id"], 120)
        assert op["status"] == "done", op
        assert "base backup" in [s["name"] for s in op["steps"]]
    now = (await client.get("/v1/databases/bases/pitr")).json()
    assert len(now["base_backups"]) == KEEP_BASE_BACKUPS
    assert first["base_backups"][0]["id"] not in [b["id"] for b in now["base_backups"]]
    oldest_start = now["base_backups"][0]["start_lsn"]
    assert now["ranges"] and now["earliest"] is not None
    assert oldest_start


async def test_an_interrupted_restore_is_rolled_back(managed_app: AppHandle) -> None:
    """dbplane stopped midway (its operation ended, the server left ``updating`` with
    ``kept["pitr"]`` and a half-built directory): the periodic task puts the previous
    directory back in service, once, however many tasks and processes find it."""
    from dbplane.services import managed, pitr

    client = managed_app.client
    url = await _with_pitr(managed_app, "stopped")
    await _sql(url, "INSERT INTO t VALUES (1, 'kept')")
    handle = await managed.handle_for(managed_app.ctx, await _row(managed_app, "stopped"))
    half = handle.plan.directory / "data-pitr-20260101000000000000"
    half.mkdir()
    # as the restore does: ``updating`` first (the supervisor leaves such a server alone),
    # then the server stopped
    await managed.save_server(managed_app.ctx, handle, state="updating", kept={
        "pitr": {"data_dir": str(handle.plan.directory / "data"), "new_data_dir": str(half),
                 "operation_id": "no-such-operation"}})
    await managed.stop_process(managed_app.ctx, handle)
    await managed.save_server(managed_app.ctx, handle, pid=None)
    # two passes at once (and the app's own periodic one): one undoes it, the others
    # leave it; two would each start the previous server and the second would fail
    await asyncio.gather(pitr.settle_interrupted(managed_app.ctx),
                         pitr.settle_interrupted(managed_app.ctx))
    record = await settled(managed_app, "stopped")
    assert record.state == "running", record
    assert "interrupted" in (record.detail or "")
    assert not (record.kept or {}).get("pitr")
    assert not half.exists()
    assert (await client.get("/v1/databases/stopped")).json()["database"]["status"] == \
        "running"
    assert [tuple(r) for r in await _sql(url, "SELECT id, v FROM t")] == [(1, "kept")]
