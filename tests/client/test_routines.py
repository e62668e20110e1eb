"""``client.database.migrations/.factory/.seeder``, ``client.databases.get(db)...`` and
``client.files`` against a real server with a project directory of its own (sync and
async)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from dbplane import ApiClient, AsyncApiClient
from dbplane.api.app import create_app
from dbplane.client.operations import Operation
from dbplane.errors import (
    MigrationChanged,
    NoDownMigration,
    RoutineFileNotFound,
    RoutineRowRejected,
    WrongFileKind,
)
from dbplane.routines.files import file_id
from tests.conftest import ADMIN_TOKEN, LiveServer, make_settings
from tests.fixtures.services import free_port

__all__ = ["ProjectServer", "run_project_server"]

MIGRATION = "CREATE TABLE roles (name VARCHAR(40) PRIMARY KEY, label VARCHAR(80));"
FACTORY = "table: roles\ncount: 4\nseed: 1\ncolumns:\n  name: {sequence: 'r{n}'}\n" \
          "  label: {faker: word}\n"
SEEDER = "table: roles\nkey: name\nrows:\n  - {name: admin, label: Administrator}\n"


@dataclass
class ProjectServer(LiveServer):
    project_dir: Path

    def write(self, rel: str, text: str) -> str:
        path = self.project_dir / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return file_id(rel)


def run_project_server(base: Path) -> Iterator[ProjectServer]:
    """A real uvicorn server (as tests/conftest.py's live server) whose project directory
    is ``base / "project"``."""
    project = base / "project"
    project.mkdir(parents=True)
    port = free_port()
    app = create_app(make_settings(base / "data", project_dir=project))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                           log_level="warning", lifespan="on"))
    thread = threading.Thread(target=lambda: asyncio.run(server.serve()), daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the dbplane server did not start")
        time.sleep(0.05)
    handle = ProjectServer(base_url=f"http://127.0.0.1:{port}", token=ADMIN_TOKEN,
                           data_dir=base / "data", project_dir=project)
    try:
        yield handle
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def project_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProjectServer]:
    yield from run_project_server(tmp_path_factory.mktemp("routines-client"))


@pytest.fixture
def pclient(project_server: ProjectServer) -> Iterator[ApiClient]:
    with ApiClient(project_server.token, project_server.base_url) as c:
        yield c


def test_the_seed_shape_on_the_default_database(project_server: ProjectServer,
                                                 pclient: ApiClient) -> None:
    project_server.write("migrations/0001_roles.up.sql", MIGRATION)
    project_server.write("migrations/0001_roles.down.sql", "DROP TABLE roles;")
    pretend = pclient.database.migrations.run(pretend=True)
    assert pretend["migrations"][0]["sql"] == [MIGRATION.rstrip(";")]
    assert pclient.database.migrations.run()["message"] == "Migrations complete"
    listed = pclient.database.migrations.list()
    assert [(m["migration"], m["status"], m["batch"]) for m in listed] == [
        ("0001_roles", "applied", 1)]
    fid = project_server.write("factories/roles.yaml", FACTORY)
    answer = pclient.database.factory.run(fid)
    assert (answer["status"], answer["message"], answer["rows"]) == ("200",
                                                                      "Factory created", 4)
    sid = project_server.write("seeders/roles.yaml", SEEDER)
    assert pclient.database.seeder.run(sid)["message"] == "Seeder executed"
    assert pclient.database.seeder.run(sid)["inserted"] == 0
    files = pclient.files.list("factory")
    assert [f["file_id"] for f in files] == [fid]
    assert {f["kind"] for f in pclient.files.list()} == {"migration", "factory", "seeder"}
    with pytest.raises(RoutineFileNotFound) as err:
        pclient.database.factory.run("no-such-file")
    assert err.value.status_code == 404
    with pytest.raises(WrongFileKind):
        pclient.database.seeder.run(fid)
    project_server.write("migrations/0001_roles.up.sql", MIGRATION + "\n")
    with pytest.raises(MigrationChanged):
        pclient.database.migrations.run()
    assert pclient.database.migrations.run(allow_changed=True)["applied"] == []
    rolled = pclient.database.migrations.rollback()
    assert [m["migration"] for m in rolled["rolled_back"]] == ["0001_roles"]


async def test_async_twins_on_a_named_database(project_server: ProjectServer,
                                               pclient: ApiClient) -> None:
    pclient.databases.create("routines-async")
    project_server.write("routines-async/migrations/0001_roles.up.sql", MIGRATION)
    fid = project_server.write("factories/roles_async.yaml", FACTORY)
    async with AsyncApiClient(project_server.token, project_server.base_url) as client:
        db = await client.databases.get("routines-async")
        assert (await db.migrations.run(pretend=True))["pretend"] is True
        ran = await db.migrations.run()
        assert [m["migration"] for m in ran["applied"]] == ["0001_roles"]
        assert (await db.factory.run(fid, count=7))["rows"] == 7
        assert (await db.seeder.run("seeders/roles.yaml"))["inserted"] == 1
        assert [m["status"] for m in await db.migrations.list()] == ["applied"]
        with pytest.raises(NoDownMigration):  # no down file: nothing reverted
            await db.migrations.rollback(steps=1)
        assert len(await client.files.list("migration")) >= 1
    sync_db = pclient.databases.get("routines-async")
    assert sync_db.migrations.list()[0]["migration"] == "0001_roles"


def test_wait_runs_as_an_operation_with_the_same_answer(project_server: ProjectServer,
                                                         pclient: ApiClient) -> None:
    pclient.databases.create("routines-wait")
    project_server.write("routines-wait/migrations/0001_roles.up.sql", MIGRATION)
    db = pclient.databases.get("routines-wait")
    ran = db.migrations.run(wait=True)
    assert [m["migration"] for m in ran["applied"]] == ["0001_roles"]
    fid = project_server.write("factories/roles_wait.yaml",
                               "table: roles\ncount: 4500\ncolumns:\n"
                               "  name: {sequence: 'w{n}'}\n")
    seen: list[float] = []
    answer = db.factory.run(fid, wait=True, on_progress=lambda o: seen.append(o["progress"]))
    assert answer == {"status": "200", "message": "Factory created",
                      "database": "routines-wait", "file_id": fid,
                      "path": "factories/roles_wait.yaml", "table": "roles", "rows": 4500}
    assert seen and seen[-1] == 1.0
    op = db.factory.run(fid, count=0, wait=False)
    assert isinstance(op, Operation) and op["type"] == "routines.factory"
    assert op.wait()["result"]["rows"] == 0
    sid = project_server.write("seeders/roles.yaml", SEEDER)
    assert db.seeder.run(sid, wait=True)["message"] == "Seeder executed"
    with pytest.raises(RoutineRowRejected):  # w1..w3 exist already: nothing written
        db.factory.run(fid, count=3, wait=True)
    with pytest.raises(RoutineFileNotFound):  # refused before any operation starts
        db.factory.run("no-such-file", wait=True)

    aid = project_server.write("factories/roles_await.yaml",
                               "table: roles\ncount: 3\ncolumns:\n  name: {sequence: 'a{n}'}\n")

    async def twin() -> dict[str, Any]:
        async with AsyncApiClient(project_server.token, project_server.base_url) as client:
            adb = await client.databases.get("routines-wait")
            return await adb.factory.run(aid, wait=True)

    assert asyncio.run(twin())["rows"] == 3


def test_a_run_longer_than_the_client_timeout_still_answers(
        project_server: ProjectServer) -> None:
    """Runs wait for the server however long it works: a factory that takes longer than
    the client's timeout answers instead of raising a timeout."""
    project_server.write("migrations/0001_roles.up.sql", MIGRATION)
    with ApiClient(ADMIN_TOKEN, base_url=project_server.base_url, timeout=0.05) as slow:
        slow.database.migrations.run(allow_changed=True)
        fid = project_server.write(
            "factories/many_roles.yaml",
            "table: roles\ncount: 20000\nseed: 2\ncolumns:\n  name: {sequence: 'm{n}'}\n"
            "  label: {faker: sentence}\n")
        started = time.monotonic()
        answer = slow.database.factory.run(fid)
        assert answer["rows"] == 20000
        assert time.monotonic() - started > 0.05  # it did outlive the client's timeout
