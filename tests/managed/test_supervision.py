"""A managed server whose process dies shows as crashed at once and is restarted (with
auto_restart on), or stays crashed (with it off)."""

from __future__ import annotations

import asyncio
import os
import signal
from typing import Any

import pytest

from tests.conftest import AppHandle
from tests.managed.conftest import provision


async def _until(app: AppHandle, name: str, status: str, seconds: float = 30
                 ) -> dict[str, Any]:
    db: dict[str, Any] = {}
    for _ in range(int(seconds * 20)):
        db = (await app.client.get(f"/v1/databases/{name}")).json()["database"]
        if db["status"] == status:
            return db
        await asyncio.sleep(0.05)
    raise AssertionError(f"{name} is {db.get('status')}, not {status}: {db}")


async def test_a_killed_server_is_crashed_then_restarted(managed_app: AppHandle) -> None:
    db = await provision(managed_app.client, "fragile", "postgresql")
    pid = db["managed"]["pid"]
    os.kill(pid, signal.SIGKILL)
    await asyncio.sleep(0.05)
    crashed = (await managed_app.client.get("/v1/databases/fragile")).json()["database"]
    assert crashed["status"] in ("crashed", "updating"), crashed
    assert crashed["instances"][0]["status"] in ("crashed", "updating")
    running = await _until(managed_app, "fragile", "running")
    assert running["managed"]["pid"] != pid
    assert running["managed"]["restarts"] == 1
    assert running["readable_version"]


async def test_without_auto_restart_it_stays_crashed(managed_app: AppHandle) -> None:
    db = await provision(managed_app.client, "still", "redis")
    response = await managed_app.client.patch("/v1/databases/still", json={
        "database": {"auto_restart": False}})
    assert response.status_code == 200, response.text
    assert response.json()["database"]["managed"]["auto_restart"] is False
    os.kill(db["managed"]["pid"], signal.SIGKILL)
    await _until(managed_app, "still", "crashed")
    await asyncio.sleep(1.0)  # several supervisor passes
    again = (await managed_app.client.get("/v1/databases/still")).json()["database"]
    assert again["status"] == "crashed" and again["managed"]["restarts"] == 0
    assert "is gone" in (again["status_detail"] or "")


async def test_reads_of_a_server_that_takes_no_connections_are_503(
        managed_app: AppHandle) -> None:
    """The Tables API answers 503 (not 500) while the server is stopped, and reads again
    once it is back."""
    import asyncpg

    from dbplane.services.databases import resolve_database

    client = managed_app.client
    await provision(client, "orders", "postgresql")
    row = await resolve_database(managed_app.ctx, "orders")
    direct = await asyncpg.connect(managed_app.ctx.secrets.decrypt(row.url_secret))
    await direct.execute("CREATE TABLE items (id integer PRIMARY KEY)")
    await direct.execute("INSERT INTO items VALUES (1)")
    await direct.close()
    await client.post("/v1/databases/orders/tables/reload")
    assert (await client.get("/v1/databases/orders/tables/items")).status_code == 200
    assert (await client.post("/v1/databases/orders/stop")).status_code == 202
    await _until(managed_app, "orders", "stopped")
    response = await client.get("/v1/databases/orders/tables/items")
    assert response.status_code == 503, response.text
    assert (await client.post("/v1/databases/orders/start")).status_code == 202
    await _until(managed_app, "orders", "running")
    assert (await client.get("/v1/databases/orders/tables/items")).status_code == 200


@pytest.mark.parametrize("meta_backend", ["sqlite", "postgresql"], indirect=True)
async def test_the_undoing_of_an_interrupted_operation_is_claimed_once(
        managed_app: AppHandle) -> None:
    """``claim_interrupted``: one claim per reading of the record; a held claim refuses
    the others until its lease runs out; only a server left ``updating`` is claimed."""
    from dbplane.services import managed
    from dbplane.services.databases import resolve_database

    ctx = managed_app.ctx
    await provision(managed_app.client, "claimed", "redis")
    handle = await managed.handle_for(ctx, await resolve_database(ctx, "claimed"))
    assert not await managed.claim_interrupted(ctx, handle.record, "probe")  # running
    await managed.save_server(ctx, handle, state="updating",
                              kept={"probe": {"operation_id": "gone"}})
    read = handle.record
    assert [await managed.claim_interrupted(ctx, read, "probe") for _ in range(3)] == \
        [True, False, False]  # the record read has changed since
    handle = await managed.handle_for(ctx, handle.row)
    until = handle.record.kept["probe"]["settling_until"]
    assert until > read.updated_at + managed.SETTLE_LEASE_MS - 60_000
    assert not await managed.claim_interrupted(ctx, handle.record, "probe")  # held
    await managed.save_server(ctx, handle, kept={"probe": {"settling_until": 1}})
    assert await managed.claim_interrupted(ctx, handle.record, "probe")  # ran out
    handle = await managed.handle_for(ctx, handle.row)
    await managed.save_server(ctx, handle, state="running", kept={})
