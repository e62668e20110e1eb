"""A managed InfluxDB: dbplane writes its configuration, starts ``influxd`` with
authentication on, creates the admin user and the database; the seed's actions, a backup
and restore, a redeploy that keeps the points, and its settings refused."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.engine import make_url

from tests.conftest import AppHandle
from tests.fixtures.servers import _need_binary
from tests.managed.conftest import provision, wait_operation


@pytest.fixture(autouse=True)
def _influxd() -> None:
    _need_binary("influxd", "apt-get install -y influxdb; .ci/run does")


async def _url(app: AppHandle, name: str) -> str:
    from dbplane.services.databases import resolve_database

    row = await resolve_database(app.ctx, name)
    return app.ctx.secrets.decrypt(row.url_secret)


def _query(url: str, q: str, *, auth: bool = True, **extra: str) -> httpx.Response:
    u = make_url(url)
    return httpx.post(f"http://127.0.0.1:{u.port}/query", timeout=10,
                      auth=(u.username or "", u.password or "") if auth else None,
                      data={"q": q, **extra})


def _write(url: str, lines: str) -> None:
    u = make_url(url)
    response = httpx.post(f"http://127.0.0.1:{u.port}/write", params={"db": u.database},
                          auth=(u.username or "", u.password or ""), content=lines,
                          timeout=10)
    assert response.status_code == 204, response.text


def _count(url: str) -> int:
    body = _query(url, 'SELECT count("v") FROM "cpu"', db=make_url(url).database or "").json()
    series = body["results"][0].get("series")
    return int(series[0]["values"][0][1]) if series else 0


async def _action(client: httpx.AsyncClient, action: str,
                  **params: Any) -> httpx.Response:
    return await client.post("/v1/databases/metrics/action",
                             json={"action_name": action, "params": params})


async def test_a_managed_influxdb_serves_the_seeds_actions_and_keeps_its_points(
        managed_app: AppHandle) -> None:
    client = managed_app.client
    db = await provision(client, "metrics", "influxdb")
    assert db["status"] == "running" and db["mode"] == "managed"
    assert db["readable_version"].startswith("1.")
    [instance] = db["instances"]
    assert instance["status"] == "running" and instance["port"] == db["managed"]["port"]
    assert "***" in db["url"] and "backup_port=" in db["url"]

    url = await _url(managed_app, "metrics")
    u = make_url(url)
    backup_port = int(str(u.query["backup_port"]))
    assert backup_port != u.port
    # authentication is on: no credentials, no answer; the generated admin is admin
    assert _query(url, "SHOW DATABASES", auth=False).status_code == 401
    users = _query(url, "SHOW USERS").json()["results"][0]["series"][0]["values"]
    assert users == [["admin", True]]
    config = (Path(db["managed"]["data_directory"]) / "influxdb.conf").read_text()
    assert "reporting-disabled = true" in config and "auth-enabled = true" in config
    assert f'bind-address = "127.0.0.1:{backup_port}"' in config

    # the seed's actions on the server dbplane runs
    listed = await _action(client, "list-retention-policies")
    assert listed.status_code == 200, listed.text
    assert listed.json()["result"] == [{"name": "autogen", "duration": "0",
                                        "default": True}]
    added = await _action(client, "add-retention-policy", name="30-days", duration="30d",
                          default=False)
    assert added.json() == {"ok": 1, "result": None}

    # a backup, more points, a restore: only the backed-up points are there
    _write(url, "cpu v=1 1000000000\ncpu v=2 2000000000")
    started = await client.post("/v1/databases/metrics/backups")
    assert started.status_code == 202, started.text
    assert (await wait_operation(client, started.json()["id"]))["status"] == "done"
    backup_id = started.json()["params"]["backup_id"]
    _write(url, "cpu v=3 3000000000")
    assert _count(url) == 3
    restored = await client.post(f"/v1/databases/metrics/backups/{backup_id}/restore")
    assert restored.status_code == 202, restored.text
    op = await wait_operation(client, restored.json()["id"])
    assert op["status"] == "done", op
    assert _count(url) == 2

    # a redeploy restarts influxd on its configuration: the points and the policy stay
    before = (await client.get("/v1/databases/metrics")).json()["database"]
    redeploy = await client.post("/v1/databases/metrics/redeploy")
    assert redeploy.status_code == 202, redeploy.text
    op = await wait_operation(client, redeploy.headers["Location"].rsplit("/", 1)[1])
    assert op["status"] == "done", op
    deployment = (await client.get(
        f"/v1/databases/metrics/deployments/{redeploy.json()['id']}")).json()
    assert deployment["state"] == "DEPLOYED"
    after = (await client.get("/v1/databases/metrics")).json()["database"]
    assert after["status"] == "running"
    assert after["managed"]["pid"] != before["managed"]["pid"]  # a new influxd
    assert _count(url) == 2
    policies = (await _action(client, "list-retention-policies")).json()["result"]
    names = [p["name"] for p in policies]
    assert names == ["autogen", "30-days"]


async def test_its_configuration_is_dbplanes_own(managed_app: AppHandle) -> None:
    client = managed_app.client
    await provision(client, "metrics", "influxdb")
    response = await client.patch("/v1/databases/metrics", json={"database": {
        "config": {"max-series-per-database": "10"}}})
    assert response.status_code in (400, 422), response.text
    assert "max-series-per-database" in response.text


async def test_purge_removes_its_directories(managed_app: AppHandle) -> None:
    client = managed_app.client
    db = await provision(client, "metrics", "influxdb")
    directory = Path(db["managed"]["data_directory"])
    assert {"meta", "data", "influxdb.conf"} <= {p.name for p in directory.iterdir()}  # noqa: ASYNC240
    response = await client.delete("/v1/databases/metrics?purge=true")
    assert response.status_code == 204
    assert not directory.exists()  # noqa: ASYNC240
