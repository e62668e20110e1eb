"""InfluxDB 1.x through the real app, on a private ``influxd`` of the tests' own
(authentication on): registration and its refusals, the database object, every action of
the Scalingo seed with good and bad inputs, backup and restore, and the 4xx of the parts
InfluxDB does not have."""

from __future__ import annotations

import hashlib
import io
import tarfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api.test_actions import act
from tests.api.test_backups import backup, restore, wait_op
from tests.conftest import AppHandle
from tests.fixtures.servers import PrivateInfluxdb, start_influxdb, stop_process
from tests.fixtures.services import free_port, unique_name


@pytest.fixture
async def metrics(app_handle: AppHandle,
                  private_influxdb: PrivateInfluxdb) -> AsyncIterator[str]:
    """A fresh InfluxDB database registered as ``metrics``: answers its name."""
    name = unique_name("m")
    private_influxdb.query(f'CREATE DATABASE "{name}"')
    answer = await app_handle.client.post("/v1/databases", json={
        "resource_id": "metrics", "url": private_influxdb.url(name)})
    assert answer.status_code == 201, answer.text
    yield name
    private_influxdb.query(f'DROP DATABASE "{name}"')


def _tar(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def policies(server: PrivateInfluxdb, database: str) -> dict[str, tuple[str, bool]]:
    return {str(r["name"]): (str(r["duration"]), bool(r["default"]))
            for r in server.rows(f'SHOW RETENTION POLICIES ON "{database}"')}


async def test_registration_checks_the_server_host_port_password_and_database(
        app_client: httpx.AsyncClient, private_influxdb: PrivateInfluxdb) -> None:
    name = unique_name("m")
    private_influxdb.query(f'CREATE DATABASE "{name}"')
    try:
        cases = [
            (private_influxdb.url(name, password="wrong"), "DBP-D303", "'admin'"),
            (private_influxdb.url(name, port=free_port()), "DBP-D302", "nothing answers"),
            (private_influxdb.url("absent"), "DBP-D304", "'absent'"),
            (private_influxdb.url(name).replace("127.0.0.1", "no-such-host.invalid"),
             "DBP-D301", "no-such-host.invalid"),
            (f"influxdb://admin:x@127.0.0.1:{private_influxdb.port}/", "DBP-D201",
             "names no database"),
            (private_influxdb.url(name) + "&retries=3", "DBP-D201", "'retries'"),
        ]
        for url, code, said in cases:
            answer = await app_client.post("/v1/databases", json={"resource_id": "i",
                                                                  "url": url})
            assert 400 <= answer.status_code < 500, answer.text
            body = answer.json()
            assert body["code"] == code and said in body["detail"], body
            assert "Priv-influx-pw" not in answer.text
        assert (await app_client.get("/v1/databases/i")).status_code == 404

        ok = await app_client.post("/v1/databases", json={
            "resource_id": "i", "url": private_influxdb.url(name)})
        assert ok.status_code == 201, ok.text
        db = (await app_client.get("/v1/databases/i")).json()["database"]
        assert db["type_name"] == "influxdb"
        assert db["readable_version"].startswith("1.6.7")
        assert db["status"] == "running"
        assert db["instances"][0]["port"] == private_influxdb.port
        assert "Priv-influx-pw" not in ok.text
    finally:
        private_influxdb.query(f'DROP DATABASE "{name}"')


async def test_retention_policies_as_in_the_seed(
        app_client: httpx.AsyncClient, private_influxdb: PrivateInfluxdb,
        metrics: str) -> None:
    assert await act(app_client, "metrics", "list-retention-policies") == [
        {"name": "autogen", "duration": "0", "default": True}]
    assert await act(app_client, "metrics", "add-retention-policy",
                     {"name": "30-days", "duration": "30d", "default": True}) is None
    assert await act(app_client, "metrics", "add-retention-policy",
                     {"name": "short", "duration": "90m"}) is None
    assert await act(app_client, "metrics", "add-retention-policy",
                     {"name": "weeks", "duration": "2w", "default": False}) is None
    # what InfluxDB itself has: the new default is the one it marks default
    assert policies(private_influxdb, metrics) == {
        "autogen": ("0s", False), "30-days": ("720h0m0s", True),
        "short": ("1h30m0s", False), "weeks": ("336h0m0s", False)}
    assert await act(app_client, "metrics", "list-retention-policies") == [
        {"name": "autogen", "duration": "0", "default": False},
        {"name": "30-days", "duration": "30d", "default": True},
        {"name": "short", "duration": "90m", "default": False},
        {"name": "weeks", "duration": "14d", "default": False}]

    assert await act(app_client, "metrics", "del-retention-policy",
                     {"name": "short"}) is None
    assert "short" not in policies(private_influxdb, metrics)


@pytest.mark.parametrize(("params", "status", "code", "said"), [
    ({"name": "p", "duration": "30x"}, 422, "DBP-X103", "params.duration: '30x'"),
    ({"name": "p", "duration": "30m"}, 422, "DBP-X103", "from 1h"),
    ({"name": "p", "duration": "99999999d"}, 422, "DBP-X103", "params.duration"),
    ({"name": "p", "duration": "-1d"}, 422, "DBP-X103", "params.duration"),
    ({"name": "p", "duration": 30}, 422, "DBP-X103", "params.duration"),
    ({"duration": "30d"}, 422, "DBP-X103", "params.name"),
    ({"name": "p"}, 422, "DBP-X103", "params.duration"),
    ({"name": 'x" ON "_internal', "duration": "1d"}, 422, "DBP-X103", "params.name"),
    ({"name": "", "duration": "1d"}, 422, "DBP-X103", "params.name"),
    ({"name": "p", "duration": "1d", "shard": "1h"}, 422, "DBP-X103", "params.shard"),
    ({"name": "autogen", "duration": "1d"}, 409, "DBP-X305", "'autogen'"),
])
async def test_add_retention_policy_refusals_change_nothing(
        app_client: httpx.AsyncClient, private_influxdb: PrivateInfluxdb, metrics: str,
        params: dict[str, Any], status: int, code: str, said: str) -> None:
    before = policies(private_influxdb, metrics)
    body = await act(app_client, "metrics", "add-retention-policy", params, status=status)
    assert body["code"] == code and said in body["error"], body
    assert policies(private_influxdb, metrics) == before


async def test_del_retention_policy_refusals(
        app_client: httpx.AsyncClient, private_influxdb: PrivateInfluxdb,
        metrics: str) -> None:
    unknown = await act(app_client, "metrics", "del-retention-policy", {"name": "nope"},
                        status=404)
    assert unknown["code"] == "DBP-X203"
    assert "'nope'" in unknown["error"] and "autogen" in unknown["error"]
    missing = await act(app_client, "metrics", "del-retention-policy", {}, status=422)
    assert "params.name" in missing["error"]
    assert policies(private_influxdb, metrics) == {"autogen": ("0s", True)}


async def test_logical_databases_and_reset_keeps_policies(
        app_client: httpx.AsyncClient, private_influxdb: PrivateInfluxdb,
        metrics: str) -> None:
    actions = [a["name"] for a in await act(app_client, "metrics", "list-actions")]
    assert actions == ["list-actions", "list-databases", "create-database",
                       "delete-database", "reset-database", "list-retention-policies",
                       "add-retention-policy", "del-retention-policy"]
    other = unique_name("o")
    assert await act(app_client, "metrics", "create-database",
                     {"database_name": other}) == {"name": other, "protected": False}
    listed = {d["name"]: d["protected"]
              for d in await act(app_client, "metrics", "list-databases")}
    assert listed[metrics] is True and listed[other] is False
    exists = await act(app_client, "metrics", "create-database", {"database_name": other},
                       status=409)
    assert exists["code"] == "DBP-X301" and repr(other) in exists["error"]

    private_influxdb.query(f'CREATE RETENTION POLICY "week" ON "{other}" DURATION 7d '
                           "REPLICATION 1")
    private_influxdb.write(other, "cpu,host=a v=1\ncpu,host=b v=2\nmem v=3")
    private_influxdb.write(other, "disk v=4", rp="week")
    assert private_influxdb.counts(other) == {"autogen.cpu": 2, "autogen.mem": 1,
                                              "week.disk": 1}
    assert await act(app_client, "metrics", "reset-database",
                     {"database_name": other}) is None
    assert private_influxdb.counts(other) == {}
    assert private_influxdb.rows("SHOW MEASUREMENTS", other) == []
    assert set(policies(private_influxdb, other)) == {"autogen", "week"}

    for action in ("reset-database", "delete-database"):
        refused = await act(app_client, "metrics", action, {"database_name": metrics},
                            status=409)
        assert refused["code"] == "DBP-X302"
        missing = await act(app_client, "metrics", action, {"database_name": "absent_db"},
                            status=404)
        assert missing["code"] == "DBP-X201" and "'absent_db'" in missing["error"]
        bad = await act(app_client, "metrics", action, {"database_name": 'a"; DROP'},
                        status=422)
        assert "params.database_name" in bad["error"]
    internal = await act(app_client, "metrics", "delete-database",
                         {"database_name": "_internal"}, status=409)
    assert internal["code"] == "DBP-X302"

    assert await act(app_client, "metrics", "delete-database",
                     {"database_name": other}) is None
    names = [str(r["name"]) for r in private_influxdb.rows("SHOW DATABASES")]
    assert other not in names and metrics in names


async def test_the_parts_influxdb_lacks_answer_400_naming_the_types(
        app_client: httpx.AsyncClient, metrics: str) -> None:
    tables = await app_client.get("/v1/databases/metrics/tables")
    assert tables.status_code == 400, tables.text
    assert "tables apply to SQL databases (sqlite, postgresql, mysql)" in \
        tables.json()["detail"]
    snapshot = await app_client.get("/v1/databases/metrics/schema/snapshot")
    assert snapshot.status_code == 400 and "schema snapshots apply to SQL databases" in \
        snapshot.text
    migrations = await app_client.post("/v1/databases/metrics/migrations/run")
    assert migrations.status_code == 400 and "migrations, factories and seeders apply" in \
        migrations.text
    sqlmode = await act(app_client, "metrics", "get-sqlmode", status=400)
    assert sqlmode["code"] == "DBP-X102" and "list-retention-policies" in sqlmode["error"]


async def test_backup_then_restore_returns_only_the_backed_up_points(
        app_handle: AppHandle, private_influxdb: PrivateInfluxdb, metrics: str) -> None:
    client = app_handle.client
    server = private_influxdb
    server.query(f'CREATE RETENTION POLICY "30-days" ON "{metrics}" DURATION 30d '
                 "REPLICATION 1")
    server.write(metrics, "\n".join(f"cpu,host=h{i % 3} v={i} {1_700_000_000 + i}000000000"
                                    for i in range(500)))
    server.write(metrics, "mem v=1 1700000000000000000\nmem v=2 1700000001000000000")
    server.write(metrics, "disk v=9", rp="30-days")  # now: within the 30 days
    before = server.counts(metrics)
    assert before == {"autogen.cpu": 500, "autogen.mem": 2, "30-days.disk": 1}

    made = await backup(client, "metrics")
    assert made["type"] == "influxdb" and made["size"] > 0
    archive = await client.get(f"/v1/databases/metrics/backups/{made['id']}/archive")
    assert "sha256:" + hashlib.sha256(archive.content).hexdigest() == made["checksum"]
    with tarfile.open(fileobj=io.BytesIO(archive.content)) as tar:
        names = tar.getnames()
    assert sum(n.endswith(".manifest") for n in names) == 1
    assert sum(n.endswith(".tar.gz") for n in names) >= 2  # a shard per policy with points

    server.write(metrics, "cpu,host=new v=1 1700000900000000000\nnet v=5 1700000000000000000")
    server.query(f'DROP RETENTION POLICY "30-days" ON "{metrics}"')
    assert server.counts(metrics)["autogen.net"] == 1

    op = await restore(client, "metrics", made["id"])
    assert op["status"] == "done", op
    assert server.counts(metrics) == before
    assert set(policies(server, metrics)) == {"autogen", "30-days"}
    # no temporary database is left behind
    assert not [r for r in server.rows("SHOW DATABASES") if "_restore_" in str(r["name"])]
    # and the database still answers through dbplane
    assert (await client.get("/v1/databases/metrics")).json()["database"]["status"] == \
        "running"


async def test_a_damaged_archive_is_refused_and_changes_nothing(
        app_handle: AppHandle, private_influxdb: PrivateInfluxdb, metrics: str) -> None:
    client = app_handle.client
    private_influxdb.write(metrics, "cpu v=1 1700000000000000000")
    made = await backup(client, "metrics")
    upload = await client.post(
        "/v1/databases/metrics/backups/upload",
        files={"file": ("bad.tar", b"not a tar file at all" * 100)})
    assert upload.status_code == 422 and upload.json()["code"] == "DBP-B201", upload.text
    assert "not a tar file" in upload.json()["detail"]
    manifest = b'{"meta": {"fileName": "x.meta"}, "files": [{"database": "m", ' \
        b'"fileName": "x.s1.tar.gz"}]}'
    for members, said in [({"notes.txt": b"hi"}, "0 .manifest files"),
                          ({"x.manifest": b"[1]"}, "not an InfluxDB portable manifest"),
                          ({"x.manifest": manifest, "x.meta": b""}, "lacks 'x.s1.tar.gz'"),
                          ({"../x.manifest": manifest}, "'../x.manifest'")]:
        refused = await client.post("/v1/databases/metrics/backups/upload",
                                    files={"file": ("x.tar", _tar(members))})
        assert refused.status_code == 422, refused.text
        assert said in refused.json()["detail"], refused.text
    assert private_influxdb.counts(metrics) == {"autogen.cpu": 1}
    assert made["status"] == "done"


async def test_a_non_admin_user_lists_policies_and_restore_asks_for_an_admin(
        app_handle: AppHandle, private_influxdb: PrivateInfluxdb, metrics: str) -> None:
    client, server = app_handle.client, private_influxdb
    user = unique_name("u")
    server.query(f"CREATE USER \"{user}\" WITH PASSWORD 'pw-{user}'")
    server.query(f'GRANT ALL ON "{metrics}" TO "{user}"')
    try:
        answer = await client.post("/v1/databases", json={
            "resource_id": "limited",
            "url": server.url(metrics, user=user, password=f"pw-{user}")})
        assert answer.status_code == 201, answer.text
        assert await act(client, "metrics", "add-retention-policy",
                         {"name": "forever", "duration": 0}) is None
        assert await act(client, "limited", "list-retention-policies") == [
            {"name": "autogen", "duration": "0", "default": True},
            {"name": "forever", "duration": "0", "default": False}]
        # InfluxDB lets only admins create policies: its refusal, said as it is
        refused = await act(client, "limited", "add-retention-policy",
                            {"name": "week", "duration": "7d"}, status=409)
        assert refused["code"] == "DBP-X401" and "requires admin" in refused["error"]
        server.write(metrics, "cpu v=1 1700000000000000000")
        made = await backup(client, "limited")  # the backup port needs no user
        by_admin = await backup(client, "metrics")
        server.write(metrics, "cpu v=2 1700000001000000000")
        op = await restore(client, "limited", made["id"])
        assert op["status"] == "error", op
        assert "needs an admin user" in str(op), op
        assert server.counts(metrics) == {"autogen.cpu": 2}

        # restored by an admin, the user keeps its grant on the database
        op = await restore(client, "metrics", by_admin["id"])
        assert op["status"] == "done", op
        assert server.counts(metrics) == {"autogen.cpu": 1}
        grants = server.rows(f'SHOW GRANTS FOR "{user}"')
        assert {"database": metrics, "privilege": "ALL PRIVILEGES"} in grants
        assert (await client.get("/v1/databases/limited")).json()["database"]["status"] \
            == "running"
    finally:
        server.query(f'DROP USER "{user}"')


async def test_restore_keeps_continuous_queries_and_an_empty_backup_empties(
        app_handle: AppHandle, private_influxdb: PrivateInfluxdb, metrics: str) -> None:
    client, server = app_handle.client, private_influxdb
    empty = await backup(client, "metrics")  # no point yet: no shard in the archive
    server.write(metrics, "cpu v=1 1700000000000000000")
    server.query(f'CREATE CONTINUOUS QUERY "hourly" ON "{metrics}" BEGIN SELECT mean(v) '
                 f'INTO "{metrics}"."autogen"."cpu_hourly" FROM "{metrics}"."autogen"."cpu" '
                 "GROUP BY time(1h) END")
    made = await backup(client, "metrics")
    server.write(metrics, "cpu v=2 1700000001000000000")

    op = await restore(client, "metrics", made["id"])
    assert op["status"] == "done", op
    assert server.counts(metrics) == {"autogen.cpu": 1}
    kept = [r for r in server.rows("SHOW CONTINUOUS QUERIES") if r["name"] == "hourly"]
    assert len(kept) == 1 and f"ON {metrics} " in str(kept[0]["query"]), kept

    op = await restore(client, "metrics", empty["id"])
    assert op["status"] == "done", op
    assert server.counts(metrics) == {}


async def test_status_follows_the_server_and_a_wrong_backup_port_is_said(
        app_handle: AppHandle, tmp_path: Path) -> None:
    client = app_handle.client
    proc, port, backup_port = start_influxdb(tmp_path)  # authentication off
    try:
        PrivateInfluxdb("127.0.0.1", port, backup_port, "", "").query('CREATE DATABASE "s"')
        answer = await client.post("/v1/databases", json={
            "resource_id": "s", "type_name": "influxdb",
            "url": f"influxdb://127.0.0.1:{port}/s?backup_port={free_port()}"})
        assert answer.status_code == 201, answer.text
        started = await client.post("/v1/databases/s/backups")
        op = await wait_op(client, started.headers["location"])
        assert op["status"] == "error", op
        assert "nothing answers at 127.0.0.1:" in str(op["error"]), op
        assert "backup_port" in str(op["error"]), op
        db = (await client.get("/v1/databases/s")).json()["database"]
        assert db["status"] == "running"
    finally:
        stop_process(proc)
    db = (await client.get("/v1/databases/s")).json()["database"]
    assert db["status"] == "unreachable", db
