"""A managed server is just a URL dbplane owns: the Tables API, backups and restores, and
actions work on it as on an external server."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.conftest import AppHandle
from tests.managed.conftest import provision, wait_operation
from tests.managed.test_deployments import _read, _url, _write


async def _backup_and_restore(app: AppHandle, name: str) -> None:
    response = await app.client.post(f"/v1/databases/{name}/backups")
    assert response.status_code == 202, response.text
    op = await wait_operation(app.client, response.json()["id"])
    assert op["status"] == "done", op
    backup_id = op["params"]["backup_id"]
    url = await _url(app, name)
    await asyncio.to_thread(_write, url, "after")
    response = await app.client.post(f"/v1/databases/{name}/backups/{backup_id}/restore")
    assert response.status_code == 202, response.text
    op = await wait_operation(app.client, response.json()["id"])
    assert op["status"] == "done", op
    assert await asyncio.to_thread(_read, url) == ["before"]


@pytest.mark.parametrize("type_name", ["postgresql", "mysql"])
async def test_tables_actions_and_backups_on_a_managed_sql_server(
        managed_app: AppHandle, type_name: str) -> None:
    await provision(managed_app.client, "shop", type_name)
    url = await _url(managed_app, "shop")
    await asyncio.to_thread(_write, url, "before")
    await managed_app.client.post("/v1/databases/shop/tables/reload")
    rows: Any = (await managed_app.client.get("/v1/databases/shop/tables/kept")).json()
    assert [r["v"] for r in rows] == ["before"], rows
    listed = (await managed_app.client.post("/v1/databases/shop/action", json={
        "action_name": "list-databases"})).json()
    assert listed["ok"] == 1 and "shop" in str(listed["result"])
    await _backup_and_restore(managed_app, "shop")


async def test_backups_on_a_managed_redis(managed_app: AppHandle) -> None:
    await provision(managed_app.client, "cache", "redis")
    await asyncio.to_thread(_write, await _url(managed_app, "cache"), "before")
    await _backup_and_restore(managed_app, "cache")
