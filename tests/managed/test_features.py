"""Features that need the server, on real managed servers: pg-stat-statements (preload,
a redeploy, the extension; then the statements are listed), wal-archiving, redis-aof
(applied live, and the data survives a restart on the AOF)."""

from __future__ import annotations

import asyncio
from typing import Any

import redis

from tests.conftest import AppHandle
from tests.managed.conftest import provision, wait_operation


async def _features(app: AppHandle, db: str) -> dict[str, Any]:
    listed = (await app.client.get(f"/v1/databases/{db}/features")).json()["features"]
    return {f["name"]: f for f in listed}


async def _deployment_done(app: AppHandle, db: str, deployment_id: str) -> dict[str, Any]:
    deployment = (await app.client.get(
        f"/v1/databases/{db}/deployments/{deployment_id}")).json()
    await wait_operation(app.client, deployment["operation_id"])
    result: dict[str, Any] = (await app.client.get(
        f"/v1/databases/{db}/deployments/{deployment_id}")).json()
    return result


async def test_pg_stat_statements_through_a_redeploy(managed_app: AppHandle) -> None:
    await provision(managed_app.client, "stats", "postgresql")
    response = await managed_app.client.post("/v1/databases/stats/features", json={
        "feature": {"name": "pg-stat-statements"}})
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["status"] == "PENDING_TO_ACTIVATE" and answer["deployment_id"]
    deployment = await _deployment_done(managed_app, "stats", answer["deployment_id"])
    assert deployment["state"] == "DEPLOYED", deployment
    assert "FINISH_FEATURES" in [s["step_name"] for s in deployment["steps"]["details"]]
    assert (await _features(managed_app, "stats"))["pg-stat-statements"]["status"] == \
        "ACTIVATED"
    await managed_app.client.post("/v1/databases/stats/action", json={
        "action_name": "list-databases"})
    listed = (await managed_app.client.post("/v1/databases/stats/action", json={
        "action_name": "pg-stat-statements-list"})).json()
    assert listed["ok"] == 1, listed
    assert listed["result"]


async def test_wal_archiving_is_pending_then_activated(managed_app: AppHandle) -> None:
    await provision(managed_app.client, "wal", "postgresql")
    answer = (await managed_app.client.post("/v1/databases/wal/features", json={
        "feature": {"name": "wal-archiving"}})).json()
    assert answer["status"] == "PENDING_TO_ACTIVATE"
    deployment = await _deployment_done(managed_app, "wal", answer["deployment_id"])
    assert deployment["state"] == "DEPLOYED", deployment
    assert (await _features(managed_app, "wal"))["wal-archiving"]["status"] == "ACTIVATED"
    db = (await managed_app.client.get("/v1/databases/wal")).json()["database"]
    assert db["config"]["archive_mode"] == "on"


async def test_redis_aof_applies_live_and_keeps_the_data(managed_app: AppHandle) -> None:
    await provision(managed_app.client, "aof", "redis")
    from dbplane.services.databases import resolve_database

    row = await resolve_database(managed_app.ctx, "aof")
    url = managed_app.ctx.secrets.decrypt(row.url_secret)
    client = redis.Redis.from_url(url)
    client.set("kept", "yes")
    client.close()
    response = await managed_app.client.post("/v1/databases/aof/features", json={
        "feature": {"name": "redis-aof"}})
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "ACTIVATED"
    assert (await _features(managed_app, "aof"))["redis-aof"]["status"] == "ACTIVATED"
    # ACTIVATED once the first AOF is written: until then Redis refuses to stop
    # ("Writing initial AOF, can't exit") and the restart would wait for the SIGKILL
    client = redis.Redis.from_url(url)
    persistence = client.info("persistence")
    client.close()
    assert not persistence["aof_rewrite_in_progress"], persistence
    assert not persistence["aof_rewrite_scheduled"], persistence
    redeploy = await managed_app.client.post("/v1/databases/aof/restart")
    op = await wait_operation(managed_app.client, redeploy.json()["operation_id"])
    stop = next(s for s in op["steps"] if s["name"] == "stop")
    assert stop["duration_ms"] < 10_000, op["steps"]  # a SIGTERM, not the kill after 30 s
    await asyncio.sleep(0)
    client = redis.Redis.from_url(url)
    assert client.get("kept") == b"yes"
    assert client.config_get("appendonly")["appendonly"] == "yes"
    client.close()
    response = await managed_app.client.delete("/v1/databases/aof/features?feature=redis-aof")
    assert response.status_code == 200, response.text
    assert "redis-aof" not in await _features(managed_app, "aof")


async def test_an_unknown_feature_names_the_ones_there_are(managed_app: AppHandle) -> None:
    await provision(managed_app.client, "plain", "redis")
    response = await managed_app.client.post("/v1/databases/plain/features", json={
        "feature": {"name": "wal-archiving"}})
    assert response.status_code == 400, response.text
