"""Upgrades of real managed PostgreSQL servers from Debian's 15 to the 16 the ``pgserver``
package carries: rows, roles and databases are all there after, a failed upgrade leaves 15
serving, a rollback serves 15 again; and the refusals, which change nothing."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from dbplane.engines.postgresql.managed import ManagedPostgresql
from dbplane.engines.versions import Installation
from tests.conftest import AppHandle
from tests.fixtures.servers import SqlDatabase
from tests.managed.conftest import provision, settled, wait_operation


def _builds() -> tuple[Installation, Installation]:
    found = ManagedPostgresql().installations()
    older = [i for i in found if i.version[0] == 15]
    newer = [i for i in found if i.version[0] == 16]
    if not older or not newer:
        message = (f"the upgrade tests need PostgreSQL 15 and 16 (found "
                   f"{[i.readable for i in found]}): pip install pgserver")
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return older[0], newer[-1]


async def _url(app: AppHandle, name: str) -> str:
    from dbplane.services.databases import resolve_database

    row = await resolve_database(app.ctx, name)
    return app.ctx.secrets.decrypt(row.url_secret)


async def _sql(url: str, sql: str, database: str | None = None) -> list[Any]:
    conn = await asyncpg.connect(url, database=database) if database else \
        await asyncpg.connect(url)
    try:
        return list(await conn.fetch(sql))
    finally:
        await conn.close()


async def _fill(url: str) -> None:
    await _sql(url, "CREATE ROLE reader LOGIN PASSWORD 'r3ader'")
    await _sql(url, "CREATE DATABASE other OWNER reader")
    await _sql(url, "CREATE TABLE t (id int PRIMARY KEY, v text, at timestamptz)")
    await _sql(url, "INSERT INTO t SELECT g, 'row ' || g, now() FROM "
                    "generate_series(1, 500) g")
    await _sql(url, "GRANT SELECT ON t TO reader")
    await _sql(url, "CREATE TABLE o (k text)", "other")
    await _sql(url, "INSERT INTO o VALUES ('in other')", "other")


async def _state(url: str) -> dict[str, Any]:
    return {
        "rows": [tuple(r) for r in await _sql(url, "SELECT id, v FROM t ORDER BY id")],
        "other": [tuple(r) for r in await _sql(url, "SELECT k FROM o", "other")],
        "roles": sorted(r["rolname"] for r in await _sql(
            url, "SELECT rolname FROM pg_roles WHERE rolname NOT LIKE 'pg\\_%'")),
        "grant": await _sql(url, "SELECT has_table_privilege('reader', 't', 'SELECT')"),
    }


async def _database(app: AppHandle, name: str) -> dict[str, Any]:
    found: dict[str, Any] = (await app.client.get(f"/v1/databases/{name}")).json()["database"]
    return found


async def test_upgrade_to_16_then_roll_back_to_15(managed_app: AppHandle) -> None:
    old_build, new_build = _builds()
    client = managed_app.client
    await provision(client, "up", "postgresql")
    url = await _url(managed_app, "up")
    await _fill(url)
    before = await _state(url)
    db = await _database(managed_app, "up")
    assert db["readable_version"].startswith("15.")
    assert db["version_id"] == old_build.id
    assert db["next_version_id"] == new_build.id
    versions = (await client.get("/v1/databases/up/versions")).json()
    assert versions["current"]["id"] == old_build.id
    assert [v["id"] for v in versions["versions"]] == [new_build.id]
    assert versions["previous"] is None

    response = await client.post("/v1/databases/up/upgrade")
    assert response.status_code == 202, response.text
    body = response.json()
    major, minor, patch = new_build.version
    assert body["message"] == f"Database upgrade to {major}.{minor}.{patch}-1 is pending"
    assert (body["major"], body["minor"], body["patch"], body["build"]) == \
        (major, minor, patch, 1)
    assert body["id"] == new_build.id and "created_at" in body and "features" in body
    assert response.headers["location"] == f"/v1/operations/{body['operation_id']}"
    assert (await _database(managed_app, "up"))["status"] == "upgrading"
    op = await wait_operation(client, body["operation_id"], 180)
    assert op["status"] == "done", op
    steps = [s["name"] for s in op["steps"]]
    for step in ("backup", "initialise the new cluster", "move the data", "verify",
                 "switch over"):
        assert step in steps, steps
    assert all(s["duration_ms"] is not None for s in op["steps"] if s["name"] == "verify")
    assert op["result"]["unavailable_seconds"] > 0

    db = await _database(managed_app, "up")
    assert db["status"] == "running"
    assert db["readable_version"].startswith(f"{major}.")
    assert db["version_id"] == new_build.id and db["next_version_id"] is None
    assert await _state(url) == before  # same URL, same port: every row, role, database
    backups = (await client.get("/v1/databases/up/backups")).json()["database_backups"]
    assert any(b["id"] == op["result"]["backup_id"] and b["status"] == "done"
               for b in backups)
    previous = (await client.get("/v1/databases/up/versions")).json()["previous"]
    assert previous["version_id"] == old_build.id
    assert await asyncio.to_thread(Path(previous["data_dir"]).is_dir)

    # a second upgrade waits for the kept version's removal or a rollback
    again = await client.post("/v1/databases/up/upgrade")
    assert again.status_code == 409 and again.json()["code"] in ("DBP-G301", "DBP-G304")

    await _sql(url, "INSERT INTO t VALUES (1000, 'after the upgrade')")
    response = await client.post("/v1/databases/up/upgrade/rollback")
    assert response.status_code == 202, response.text
    op = await wait_operation(client, response.json()["operation_id"], 120)
    assert op["status"] == "done", op
    db = await _database(managed_app, "up")
    assert db["readable_version"].startswith("15.") and db["version_id"] == old_build.id
    assert await _state(url) == before  # as it was when upgraded: the later row is gone
    assert not await asyncio.to_thread(Path(op["result"]["removed_data_dir"]).exists)
    assert (await client.get("/v1/databases/up/versions")).json()["previous"] is None
    nothing = await client.post("/v1/databases/up/upgrade/rollback")
    assert nothing.status_code == 409 and nothing.json()["code"] == "DBP-G303"


def _broken_build(root: Path, good: Installation) -> Path:
    """A build whose server cannot start: its tools are the 16's, its ``postgres`` says it
    is 17.0 and exits at once when run as a server."""
    bin_dir = root / "broken-17" / "bin"
    bin_dir.mkdir(parents=True)
    for tool in good.bin_dir.iterdir():
        if tool.name != "postgres":
            (bin_dir / tool.name).symlink_to(tool)
    script = bin_dir / "postgres"
    script.write_text(
        "#!/bin/sh\n"
        'case "$1" in\n'
        '  --version|-V) echo "postgres (PostgreSQL) 17.0"; exit 0;;\n'
        f'  --describe-config) exec {good.bin_dir / "postgres"} "$@";;\n'
        "esac\n"
        'echo "FATAL: this build cannot start" >&2; exit 1\n')
    script.chmod(0o755)  # dbplane's umask is 077: the server's user must read it too
    root.chmod(0o755)
    (root / "broken-17").chmod(0o755)
    bin_dir.chmod(0o755)
    return bin_dir


async def test_a_failed_upgrade_leaves_15_serving(managed_app: AppHandle,
                                                   managed_dir: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    old_build, new_build = _builds()
    broken = _broken_build(managed_dir / "builds", new_build)
    monkeypatch.setenv("DBPLANE_POSTGRES_BIN_DIRS", str(broken))
    client = managed_app.client
    await provision(client, "fails", "postgresql")
    url = await _url(managed_app, "fails")
    await _fill(url)
    before = await _state(url)
    directory = Path((await _database(managed_app, "fails"))["managed"]["data_directory"])
    versions = (await client.get("/v1/databases/fails/versions")).json()
    target = next(v for v in versions["versions"] if v["bin_dir"] == str(broken))
    assert target["major"] == 17

    response = await client.post("/v1/databases/fails/upgrade",
                                 json={"version_id": target["id"]})
    assert response.status_code == 202, response.text
    op = await wait_operation(client, response.json()["operation_id"], 180)
    assert op["status"] == "error", op
    assert op["error"]["code"] == "DBP-G401", op["error"]
    message = op["error"]["message"]
    assert "15." in message and "serves as before" in message
    assert "this build cannot start" in message  # the new cluster's own log
    db = await _database(managed_app, "fails")
    assert db["status"] == "running" and db["readable_version"].startswith("15.")
    assert db["version_id"] == old_build.id
    assert await _state(url) == before
    assert not await asyncio.to_thread(lambda: list(directory.glob("data-17-*")))
    assert (await client.get("/v1/databases/fails/versions")).json()["previous"] is None


async def test_refusals_change_nothing(managed_app: AppHandle, pg_url: SqlDatabase) -> None:
    _builds()
    client = managed_app.client
    await provision(client, "cache", "redis")
    response = await client.post("/v1/databases/cache/upgrade")
    assert response.status_code == 409, response.text
    assert response.json()["code"] == "DBP-G301"
    assert "no newer version" in response.json()["detail"]
    response = await client.post("/api/databases/cache/upgrade")  # Scalingo's path
    assert response.status_code == 409 and response.json()["code"] == "DBP-G301"
    versions = (await client.get("/v1/databases/cache/versions")).json()
    assert versions["versions"] == [] and versions["current"]["major"] == 7
    assert versions["reason"]

    await provision(client, "pg", "postgresql")
    for body, status, name in (({"version_id": "nope"}, 422, "version_id"),
                               ({"version_id": 5}, 422, "version_id"),
                               ({"to": "16"}, 400, None)):
        response = await client.post("/v1/databases/pg/upgrade", json=body)
        assert response.status_code == status, response.text
        if name:
            assert response.json()["field"] == name
    # a setting the 16 does not know (removed in 16) is named before anything starts
    response = await client.patch("/v1/databases/pg", json={"database": {
        "config": {"vacuum_defer_cleanup_age": "10"}}})
    assert response.status_code in (200, 202), response.text
    response = await client.post("/v1/databases/pg/upgrade")
    assert response.status_code == 409, response.text
    assert response.json()["code"] == "DBP-G302"
    assert "vacuum_defer_cleanup_age" in response.json()["detail"]
    # an activated feature the 16 cannot run (pgserver's build has no contrib)
    answer = (await client.post("/v1/databases/pg/features", json={
        "feature": {"name": "pg-stat-statements"}})).json()
    deployment = (await client.get(
        f"/v1/databases/pg/deployments/{answer['deployment_id']}")).json()
    assert (await wait_operation(client, deployment["operation_id"]))["status"] == "done"
    response = await client.post("/v1/databases/pg/upgrade")
    assert response.status_code == 409, response.text
    assert response.json()["code"] == "DBP-G302"
    assert response.json()["features"] == ["pg-stat-statements"]
    assert "pg-stat-statements" in response.json()["detail"]
    for path in ("/upgrade/rollback", "/upgrade/previous"):
        method = client.post if path.endswith("rollback") else client.delete
        response = await method(f"/v1/databases/pg{path}")
        assert response.status_code == 409 and response.json()["code"] == "DBP-G303"
    ops = (await client.get("/v1/operations?database=pg")).json()["operations"]
    assert not [o for o in ops if o["type"].startswith("managed.upgrade")]

    response = await client.post("/v1/databases", json={"database": {
        "resource_id": "ext", "url": pg_url.url}})
    assert response.status_code in (200, 201), response.text
    response = await client.post("/v1/databases/ext/upgrade")
    assert response.status_code == 400 and response.json()["code"] == "DBP-M102"
    versions = (await client.get("/v1/databases/ext/versions")).json()
    assert versions["current"] is None and "external" in versions["reason"]


async def test_an_upgrade_interrupted_by_a_stop_of_dbplane_is_undone(
        managed_app: AppHandle) -> None:
    """dbplane stopped midway (its operation ended, the server left ``updating`` with
    ``kept["upgrade_run"]``, a process of the new build running and its half-made
    directory): the periodic task stops the process, removes the directory and starts
    the previous server on its port."""
    import sys

    from dbplane.services import managed, upgrades
    from dbplane.services.databases import resolve_database

    _builds()
    client = managed_app.client
    await provision(client, "halt", "postgresql")
    url = await _url(managed_app, "halt")
    await _fill(url)
    before = await _state(url)
    handle = await managed.handle_for(managed_app.ctx,
                                      await resolve_database(managed_app.ctx, "halt"))
    await managed.save_server(managed_app.ctx, handle, state="updating")  # as upgrades do
    await managed.stop_process(managed_app.ctx, handle)
    half = handle.plan.directory / "data-16-20260101000000000000"
    half.mkdir()
    # a process the runtime knows as this server's (its directory on its command line)
    stray = await asyncio.create_subprocess_exec(
        sys.executable, "-c",
        # SIGINT (the server's stop signal) ends it even when started from a shell that
        # ignores SIGINT for background jobs
        "import signal, time; signal.signal(signal.SIGINT, signal.default_int_handler); "
        "time.sleep(60)", str(handle.plan.directory))
    await managed.save_server(managed_app.ctx, handle, state="updating", pid=None, kept={
        "upgrade_run": {"operation_id": "no-such-operation", "new_data_dir": str(half),
                        "pids": [stray.pid], "aside": [], "suffix": "-15-x"}})
    await asyncio.gather(upgrades.settle_interrupted(managed_app.ctx),
                         upgrades.settle_interrupted(managed_app.ctx))
    assert await asyncio.wait_for(stray.wait(), 10) is not None
    record = await settled(managed_app, "halt")
    assert record.state == "running", record
    assert "interrupted" in (record.detail or "")
    assert "upgrade_run" not in (record.kept or {})
    assert not half.exists()
    assert (await _database(managed_app, "halt"))["status"] == "running"
    assert await _state(url) == before


def test_each_build_is_found_once_and_a_directory_without_a_server_is_ignored(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    old, new = _builds()
    empty = tmp_path / "no-server" / "bin"
    empty.mkdir(parents=True)
    monkeypatch.setenv("DBPLANE_POSTGRES_BIN_DIRS", f"{empty}:{old.bin_dir}:{new.bin_dir}")
    found = ManagedPostgresql().installations()
    assert [i.bin_dir.resolve() for i in found] == [old.bin_dir.resolve(),
                                                     new.bin_dir.resolve()]
    assert [i.version[0] for i in found] == [15, 16]
    # contrib's pg_stat_statements is in Debian's share directory, not in pgserver's
    assert "pg-stat-statements" in old.features
    assert "pg-stat-statements" not in new.features
    assert all("wal-archiving" in i.features for i in found)
    assert len({i.id for i in found}) == 2
