"""Fixtures of the managed-server tests: an app whose managed servers live in a directory
the unprivileged server user can reach (pytest's tmp_path sits under a 0700 directory),
and a teardown that stops every server a test left running."""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager

from dbplane.api.app import create_app
from dbplane.meta import managed_queries as mq
from dbplane.meta.records import ManagedServerRecord
from tests.conftest import ADMIN_TOKEN, AppHandle, MetaBackend, make_settings
from tests.fixtures.servers import PG_BIN

MANAGED_TYPES = ["postgresql", "mysql", "redis"]  # and influxdb: test_influxdb.py


def need_tools() -> None:
    missing = [t for t in (str(PG_BIN / "initdb"), "mariadb-install-db", "redis-server")
               if shutil.which(t) is None]
    if missing:
        if os.environ.get("CI") == "true":
            pytest.fail(f"managed-server tools missing: {missing}")
        pytest.skip(f"managed-server tools missing: {missing} (apt-get install "
                    "postgresql-15 mariadb-server redis-server)")


@pytest.fixture
def managed_dir() -> Iterator[Path]:
    need_tools()
    path = Path(tempfile.mkdtemp(prefix="dbp-managed-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
async def managed_app(tmp_path: Path, meta_backend: MetaBackend,
                      managed_dir: Path) -> AsyncIterator[AppHandle]:
    app = create_app(make_settings(tmp_path / "data", meta_backend, managed_dir=managed_dir,
                                   managed_supervise_seconds=0.2))
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://dbplane.test",
                                     headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
                                     timeout=60) as client:
            handle = AppHandle(app=app, client=client)
            try:
                yield handle
            finally:
                listed = (await client.get("/v1/databases")).json()["databases"]
                for db in listed:
                    if db["mode"] == "managed":
                        await client.delete(f"/v1/databases/{db['id']}?purge=true")


async def wait_operation(client: httpx.AsyncClient, op_id: str,
                         seconds: float = 60) -> dict[str, Any]:
    for _ in range(int(seconds * 20)):
        op: dict[str, Any] = (await client.get(f"/v1/operations/{op_id}")).json()
        if op["status"] in ("done", "error", "canceled"):
            return op
        await asyncio.sleep(0.05)
    raise AssertionError(f"operation {op_id} did not end: {op}")


async def provision(client: httpx.AsyncClient, name: str, type_name: str) -> dict[str, Any]:
    """Provision a managed database and wait until it runs; its object."""
    response = await client.post("/v1/databases", json={"database": {
        "resource_id": name, "type_name": type_name, "mode": "managed"}})
    assert response.status_code == 202, response.text
    op = await wait_operation(client, response.json()["id"])
    assert op["status"] == "done", op
    db: dict[str, Any] = (await client.get(f"/v1/databases/{name}")).json()["database"]
    return db


async def settled(handle: AppHandle, name: str, seconds: float = 60) -> ManagedServerRecord:
    """The managed server record of ``name`` once it has left ``updating`` (a settle pass
    of the app's periodic task may be the one undoing an interrupted operation)."""
    from dbplane.services.databases import resolve_database

    deadline = asyncio.get_running_loop().time() + seconds
    while True:
        row = await resolve_database(handle.ctx, name)
        async with handle.ctx.meta.connect() as conn:
            record = await mq.get_managed_server(conn, row.id)
        assert record is not None, name
        if record.state != "updating" or asyncio.get_running_loop().time() > deadline:
            return record
        await asyncio.sleep(0.1)
