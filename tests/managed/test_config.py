"""Settings of real managed servers: validated against the server's catalogue, live ones
applied at once, restart-only ones pending (old and new value, OUT_OF_DATE) until a
redeploy makes them live; a setting the server refuses at start fails the deployment and
the server keeps running on its previous configuration."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import AppHandle
from tests.managed.conftest import provision, wait_operation

# type → (a live setting and value, a restart-only setting and value)
CASES = {
    "postgresql": (("work_mem", "8MB"), ("max_connections", "50")),
    "mysql": (("max_connections", "77"), ("back_log", "60")),
    "redis": (("maxmemory", "10485760"), ("databases", "20")),
}


async def _patch(app: AppHandle, db: str, config: dict[str, Any]) -> Any:
    return await app.client.patch(f"/v1/databases/{db}",
                                  json={"database": {"config": config}})


async def _redeploy(app: AppHandle, db: str) -> dict[str, Any]:
    response = await app.client.post(f"/v1/databases/{db}/redeploy")
    assert response.status_code == 202, response.text
    await wait_operation(app.client, response.headers["Location"].rsplit("/", 1)[1])
    result: dict[str, Any] = (await app.client.get(
        f"/v1/databases/{db}/deployments/{response.json()['id']}")).json()
    return result


@pytest.mark.parametrize("type_name", list(CASES))
async def test_live_and_pending_settings(managed_app: AppHandle, type_name: str) -> None:
    (live_name, live_value), (restart_name, restart_value) = CASES[type_name]
    await provision(managed_app.client, "conf", type_name)

    response = await _patch(managed_app, "conf", {live_name: live_value,
                                                  restart_name: restart_value})
    assert response.status_code == 200, response.text
    db = response.json()["database"]
    assert db["config"][live_name] == live_value  # read back from the server
    old = db["config"][restart_name]
    assert old != restart_value
    assert db["pending_restart_reason"] == {
        restart_name: {"old_value": old, "new_value": restart_value}}
    assert db["service_deployment_status"] == "OUT_OF_DATE"
    status = (await managed_app.client.get("/v1/databases/conf/status")).json()
    assert status["service_deployment_status"] == "OUT_OF_DATE"

    deployment = await _redeploy(managed_app, "conf")
    assert deployment["state"] == "DEPLOYED", deployment
    db = (await managed_app.client.get("/v1/databases/conf")).json()["database"]
    assert db["config"][restart_name] == restart_value
    assert db["config"][live_name] == live_value
    assert db["pending_restart_reason"] == {}
    assert db["service_deployment_status"] == "UP_TO_DATE"


@pytest.mark.parametrize(("type_name", "config", "field"), [
    ("postgresql", {"no_such_setting": "1"}, "config.no_such_setting"),
    ("postgresql", {"max_connections": "0"}, "config.max_connections"),
    ("postgresql", {"work_mem": "12parsecs"}, "config.work_mem"),
    ("mysql", {"max_connections": "lots"}, "config.max_connections"),
    ("redis", {"maxmemory-policy": "sometimes"}, "config.maxmemory-policy"),
])
async def test_a_bad_setting_is_refused_naming_it(managed_app: AppHandle, type_name: str,
                                                  config: dict[str, str],
                                                  field: str) -> None:
    await provision(managed_app.client, "strict", type_name)
    response = await _patch(managed_app, "strict", config)
    assert response.status_code == 422, response.text
    assert response.json()["field"] == field
    db = (await managed_app.client.get("/v1/databases/strict")).json()["database"]
    assert db["pending_restart_reason"] == {}


async def test_a_setting_refused_at_start_rolls_back(managed_app: AppHandle) -> None:
    await provision(managed_app.client, "risky", "postgresql")
    # within pg_settings' bounds, but no machine here has a terabyte to share
    response = await _patch(managed_app, "risky", {"shared_buffers": "1000GB"})
    assert response.status_code == 200, response.text
    deployment = await _redeploy(managed_app, "risky")
    assert deployment["state"] == "DEPLOYMENT_ERROR"
    assert deployment["error"]["message"]
    steps = {s["step_name"]: s["status"] for s in deployment["steps"]["details"]}
    assert steps["ROLLBACK"] == "SUCCESS"
    assert "ERROR" in steps.values()
    db = (await managed_app.client.get("/v1/databases/risky")).json()["database"]
    assert db["status"] == "running"
    assert db["config"]["shared_buffers"] != "1000GB"
    assert db["pending_restart_reason"]["shared_buffers"]["new_value"] == "1000GB"
    assert db["service_deployment_status"] == "OUT_OF_DATE"
