"""Provisioning managed servers for real: PostgreSQL, MariaDB and Redis started by
dbplane, reached through the Tables API and actions, stopped and purged."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import AppHandle
from tests.managed.conftest import MANAGED_TYPES, provision, wait_operation


@pytest.mark.parametrize("type_name", MANAGED_TYPES)
async def test_provision_show_and_delete(managed_app: AppHandle, type_name: str) -> None:
    client = managed_app.client
    response = await client.post("/v1/databases", json={"database": {
        "resource_id": "orders", "type_name": type_name, "mode": "managed"}})
    assert response.status_code == 202, response.text
    assert response.headers["Location"] == f"/v1/operations/{response.json()['id']}"
    early = (await client.get("/v1/databases/orders")).json()["database"]
    assert early["status"] in ("creating", "running")
    op = await wait_operation(client, response.json()["id"])
    assert op["status"] == "done", op
    assert [s["name"] for s in op["steps"]][:2] == ["prepare directory", "initialise"]

    db = (await client.get("/v1/databases/orders")).json()["database"]
    assert db["status"] == "running", db
    assert db["mode"] == "managed" and db["plan"] == "managed"
    assert db["readable_version"]
    [instance] = db["instances"]
    assert instance["type"] == "db-node" and instance["status"] == "running"
    assert instance["port"] == db["managed"]["port"] and db["managed"]["pid"]
    assert "***" in db["url"]  # the generated password is never shown
    assert db["service_deployment_status"] == "UP_TO_DATE"
    directory = Path(db["managed"]["data_directory"])
    assert directory.is_dir()  # noqa: ASYNC240

    # kept without purge, and the answer says where
    response = await client.delete("/v1/databases/orders")
    assert response.status_code == 200, response.text
    assert response.json()["data_directory"] == str(directory)
    assert directory.is_dir()  # noqa: ASYNC240
    assert (await client.get("/v1/databases/orders")).status_code == 404


async def test_purge_removes_the_files(managed_app: AppHandle) -> None:
    client = managed_app.client
    db = await provision(client, "scratch", "redis")
    directory = Path(db["managed"]["data_directory"])
    response = await client.delete("/v1/databases/scratch?purge=true")
    assert response.status_code == 204
    assert not directory.exists()  # noqa: ASYNC240


async def test_a_type_dbplane_cannot_run_is_refused(managed_app: AppHandle) -> None:
    response = await managed_app.client.post("/v1/databases", json={"database": {
        "resource_id": "lite", "type_name": "sqlite", "mode": "managed"}})
    assert response.status_code == 400
    assert response.json()["supported"] == ["postgresql", "mysql", "redis", "influxdb"]
    assert (await managed_app.client.get("/v1/databases/lite")).status_code == 404


async def test_a_directory_the_server_user_cannot_enter_is_named(
        tmp_path: Path, managed_app: AppHandle) -> None:
    # tmp_path's parent is 0700 and root's: the postgres user cannot enter it
    managed_app.ctx.settings.managed_dir = tmp_path / "managed"
    response = await managed_app.client.post("/v1/databases", json={"database": {
        "resource_id": "blocked", "type_name": "postgresql", "mode": "managed"}})
    assert response.status_code == 503, response.text
    assert response.json()["code"] == "DBP-M402"
    assert "cannot enter" in response.json()["detail"]


async def test_delete_waits_for_the_provisioning(managed_app: AppHandle) -> None:
    client = managed_app.client
    response = await client.post("/v1/databases", json={"database": {
        "resource_id": "early", "type_name": "mysql", "mode": "managed"}})
    assert response.status_code == 202
    refused = await client.delete("/v1/databases/early")
    assert refused.status_code == 409, refused.text
    assert refused.json()["operation_id"] == response.json()["id"]
    await wait_operation(client, response.json()["id"])
    assert (await client.delete("/v1/databases/early?purge=true")).status_code == 204
