"""``client.databases.create(..., mode="managed")``, ``db.redeploy(wait=True)``,
``db.deployments.list()`` and ``delete(purge=True)`` on a real managed PostgreSQL."""

from __future__ import annotations

import pytest

from dbplane import ApiClient, AsyncApiClient
from dbplane.errors import DeploymentConflict, NotManaged
from tests.fixtures.services import unique_name
from tests.managed.conftest import need_tools


def test_provision_redeploy_and_history(client: ApiClient) -> None:
    need_tools()
    rid = unique_name("orders")
    db = client.databases.create(rid, type_name="postgresql", mode="managed")
    assert db["status"] == "running" and db["mode"] == "managed"
    deployment = db.redeploy(wait=True)
    assert deployment["state"] == "DEPLOYED"
    assert [s["status"] for s in deployment["steps"]["details"]] == ["SUCCESS"] * 5
    first = db.redeploy()
    with pytest.raises(DeploymentConflict) as info:
        db.restart()
    assert first["id"] in str(info.value)
    listed = db.deployments.list()
    assert listed[0]["id"] == first["id"] and len(listed) == 2
    assert db.status()["service_deployment_status"] == "UP_TO_DATE"
    client.operations.get(first["operation_id"]).wait(timeout=60)
    client.databases.delete(rid, purge=True)


async def test_the_async_client_stops_only_managed_servers(aclient: AsyncApiClient) -> None:
    db = await aclient.databases.get("default")
    with pytest.raises(NotManaged):
        await db.stop()
    deployment = await db.redeploy(wait=True)
    assert deployment["state"] == "DEPLOYED"
    assert deployment["service_deployment_status"] == "UP_TO_DATE"


def test_config_set_through_the_client(client: ApiClient) -> None:
    need_tools()
    rid = unique_name("tuned")
    db = client.databases.create(rid, type_name="mysql", mode="managed")
    shown = db.config.set(max_connections=42, back_log=70)
    assert shown["config"]["max_connections"] == "42"
    assert shown["pending_restart_reason"]["back_log"]["new_value"] == "70"
    assert shown["service_deployment_status"] == "OUT_OF_DATE"
    assert db.redeploy(wait=True)["state"] == "DEPLOYED"
    assert db.config.show()["config"]["back_log"] == "70"
    client.databases.delete(rid, purge=True)
