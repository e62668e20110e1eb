"""Deployments on real managed servers: redeploy keeps the data and times its steps,
restart/stop/start, the history, the status, 409 while one runs, and Qovery's paths with
an empty form-encoded body."""

from __future__ import annotations

import asyncio
from typing import Any

import psycopg
import pymysql
import pytest
import redis
from sqlalchemy.engine import make_url

from tests.conftest import AppHandle
from tests.managed.conftest import MANAGED_TYPES, provision, wait_operation


async def _url(app: AppHandle, name: str) -> str:
    from dbplane.services.databases import resolve_database

    row = await resolve_database(app.ctx, name)
    return app.ctx.secrets.decrypt(row.url_secret)


def _write(url: str, value: str) -> None:
    u = make_url(url)
    if u.drivername.startswith("postgresql"):
        with psycopg.connect(url) as conn:
            conn.execute("CREATE TABLE IF NOT EXISTS kept (v text)")
            conn.execute("INSERT INTO kept VALUES (%s)", (value,))
    elif u.drivername.startswith("mysql"):
        conn = pymysql.connect(host=u.host, port=u.port, user=u.username,
                               password=u.password, database=u.database, autocommit=True)
        with conn.cursor() as cur:
            cur.execute("CREATE TABLE IF NOT EXISTS kept (v text)")
            cur.execute("INSERT INTO kept VALUES (%s)", (value,))
        conn.close()
    else:
        client = redis.Redis.from_url(url)
        client.rpush("kept", value)
        client.close()


def _read(url: str) -> list[str]:
    u = make_url(url)
    if u.drivername.startswith("postgresql"):
        with psycopg.connect(url) as conn:
            return [r[0] for r in conn.execute("SELECT v FROM kept ORDER BY v")]
    if u.drivername.startswith("mysql"):
        conn = pymysql.connect(host=u.host, port=u.port, user=u.username,
                               password=u.password, database=u.database)
        with conn.cursor() as cur:
            cur.execute("SELECT v FROM kept ORDER BY v")
            rows = [r[0] for r in cur.fetchall()]
        conn.close()
        return rows
    client = redis.Redis.from_url(url, decode_responses=True)
    values = sorted(client.lrange("kept", 0, -1))
    client.close()
    return values


async def _deploy(app: AppHandle, path: str) -> dict[str, Any]:
    response = await app.client.post(path)
    assert response.status_code == 202, response.text
    op = await wait_operation(app.client, response.headers["Location"].rsplit("/", 1)[1])
    assert op["status"] == "done", op
    deployment_id = response.json()["id"]
    db = path.split("/")[3]
    got = await app.client.get(f"/v1/databases/{db}/deployments/{deployment_id}")
    assert got.status_code == 200
    result: dict[str, Any] = got.json()
    return result


@pytest.mark.parametrize("type_name", MANAGED_TYPES)
async def test_redeploy_keeps_the_data_and_times_its_steps(managed_app: AppHandle,
                                                            type_name: str) -> None:
    await provision(managed_app.client, "orders", type_name)
    url = await _url(managed_app, "orders")
    await asyncio.to_thread(_write, url, "before")
    before = (await managed_app.client.get("/v1/databases/orders")).json()["database"]

    response = await managed_app.client.post("/v1/databases/orders/redeploy")
    assert response.status_code == 202, response.text
    queued = response.json()
    assert queued["status_details"] == {"action": "DEPLOY", "status": "QUEUED",
                                        "sub_action": "NONE"} or queued["state"] in (
        "DEPLOYING", "DEPLOYED")
    op = await wait_operation(managed_app.client,
                              response.headers["Location"].rsplit("/", 1)[1])
    assert op["status"] == "done", op
    deployment = (await managed_app.client.get(
        f"/v1/databases/orders/deployments/{queued['id']}")).json()
    assert deployment["state"] == "DEPLOYED"
    assert deployment["status_details"]["status"] == "SUCCESS"
    names = [s["step_name"] for s in deployment["steps"]["details"]]
    assert names == ["STOP", "WRITE_CONFIGURATION", "START", "HEALTH_CHECK",
                     "VERIFY_SETTINGS_LIVE"]
    assert all(s["status"] == "SUCCESS" for s in deployment["steps"]["details"])
    assert deployment["steps"]["details"][2]["duration_sec"] > 0
    assert deployment["steps"]["total_duration_sec"] > 0
    assert deployment["service_deployment_status"] == "UP_TO_DATE"
    assert deployment["is_part_last_deployment"] is True

    after = (await managed_app.client.get("/v1/databases/orders")).json()["database"]
    assert after["status"] == "running"
    assert after["managed"]["pid"] != before["managed"]["pid"]  # a new process
    assert await asyncio.to_thread(_read, url) == ["before"]


async def test_restart_stop_start_and_history(managed_app: AppHandle) -> None:
    client = managed_app.client
    await provision(client, "cache", "redis")
    restarted = await _deploy(managed_app, "/v1/databases/cache/restart")
    assert restarted["state"] == "RESTARTED"
    assert restarted["status_details"]["action"] == "RESTART"
    stopped = await _deploy(managed_app, "/v1/databases/cache/stop")
    assert stopped["state"] == "STOPPED"
    db = (await client.get("/v1/databases/cache")).json()["database"]
    assert db["status"] == "stopped" and db["instances"][0]["status"] == "stopped"
    status = (await client.get("/v1/databases/cache/status")).json()
    assert status["state"] == "STOPPED"
    started = await _deploy(managed_app, "/v1/databases/cache/start")
    assert started["state"] == "DEPLOYED"
    assert started["steps"]["details"][0]["step_name"] == "STOP"
    assert started["steps"]["details"][0]["status"] == "SKIP"
    db = (await client.get("/v1/databases/cache")).json()["database"]
    assert db["status"] == "running"
    history = (await client.get("/v1/databases/cache/deployments")).json()["results"]
    assert [d["state"] for d in history] == ["DEPLOYED", "STOPPED", "RESTARTED"]
    assert [d["is_part_last_deployment"] for d in history] == [True, False, False]
    assert history[0]["deployment_requests_count"] == 3


async def test_a_second_deployment_is_refused_naming_the_running_one(
        managed_app: AppHandle) -> None:
    client = managed_app.client
    await provision(client, "busy", "postgresql")
    first = await client.post("/v1/databases/busy/redeploy")
    assert first.status_code == 202
    second = await client.post("/v1/databases/busy/restart")
    assert second.status_code == 409, second.text
    body = second.json()
    assert body["code"] == "DBP-M301"
    assert first.json()["id"] in body["detail"] or first.json()["operation_id"] in \
        body["detail"]
    await wait_operation(client, first.headers["Location"].rsplit("/", 1)[1])


async def test_qovery_paths_take_an_empty_form_body(managed_app: AppHandle) -> None:
    client = managed_app.client
    db = await provision(client, "qv", "redis")
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    response = await client.post(f"/v1/database/{db['id']}/redeploy", content=b"",
                                 headers=form)
    assert response.status_code == 202, response.text
    await wait_operation(client, response.headers["Location"].rsplit("/", 1)[1])
    for path in ("restart-service", "stop", "deploy"):
        response = await client.post(f"/v1/database/{db['id']}/{path}", content=b"",
                                     headers=form)
        assert response.status_code == 202, (path, response.text)
        op = await wait_operation(client, response.headers["Location"].rsplit("/", 1)[1])
        assert op["status"] == "done", op
    status = (await client.get(f"/v1/database/{db['id']}/status")).json()
    assert status["state"] == "DEPLOYED"
    assert status["service_deployment_status"] == "UP_TO_DATE"
    history = (await client.get(f"/v1/database/{db['id']}/deploymentHistory")).json()
    assert [d["status_details"]["action"] for d in history["results"]] == [
        "DEPLOY", "STOP", "RESTART", "DEPLOY"]


async def test_an_external_database_redeploy_refreshes_dbplanes_side(
        managed_app: AppHandle) -> None:
    deployment = await _deploy(managed_app, "/v1/databases/default/redeploy")
    assert [s["step_name"] for s in deployment["steps"]["details"]] == [
        "REFRESH_CONNECTION_POOL", "REFRESH_CACHED_SETTINGS", "HEALTH_CHECK"]
    response = await managed_app.client.post("/v1/databases/default/stop")
    assert response.status_code == 400
    assert response.json()["code"] == "DBP-M102"
