"""The console's data-safety panels on real servers: the version of a managed PostgreSQL
upgraded to 16 and rolled back from the page, point-in-time restore's panel, a restore
drill started from the backups list, the drills toggle; confirmations, CSRF and refusals
shown as pages."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager

from dbplane.api.app import create_app
from tests.conftest import ADMIN_TOKEN, MetaBackend, make_settings
from tests.managed.conftest import provision, wait_operation
from tests.managed.test_upgrade import _builds

_CSRF = re.compile(r'name="(?:login_)?csrf" value="([^"]+)"')


class Console:
    def __init__(self, client: httpx.AsyncClient, api: httpx.AsyncClient) -> None:
        self.client, self.api = client, api

    async def page(self, path: str) -> str:
        answer = await self.client.get(path)
        assert answer.status_code == 200, answer.text
        return answer.text

    async def csrf(self, path: str) -> str:
        found = _CSRF.search(await self.page(path))
        assert found is not None
        return found.group(1)

    async def post(self, path: str, **data: str) -> httpx.Response:
        return await self.client.post(path, data=data)

    async def operation_of(self, answer: httpx.Response) -> dict[str, Any]:
        assert answer.status_code == 303, answer.text
        found = re.search(r"operation=([\w-]+)", answer.headers["location"])
        assert found is not None, answer.headers["location"]
        return await wait_operation(self.api, found.group(1), 180)


@pytest.fixture
async def console(tmp_path: Path, meta_backend: MetaBackend,
                  managed_dir: Path) -> AsyncIterator[Console]:
    app = create_app(make_settings(tmp_path / "data", meta_backend, managed_dir=managed_dir,
                                   managed_supervise_seconds=0.2))
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://dbplane.test",
                                     headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
                                     timeout=60) as api, \
                httpx.AsyncClient(transport=transport, base_url="http://dbplane.test",
                                  timeout=60) as client:
            token = _CSRF.search((await client.get("/console/login")).text)
            assert token is not None
            signed = await client.post("/console/login", data={
                "login_csrf": token.group(1), "next": "/console", "token": ADMIN_TOKEN})
            assert signed.status_code == 303, signed.text
            console = Console(client, api)
            try:
                yield console
            finally:
                for db in (await api.get("/v1/databases")).json()["databases"]:
                    if db["mode"] == "managed":
                        await api.delete(f"/v1/databases/{db['id']}?purge=true")


async def test_upgrade_and_rollback_from_the_version_panel(console: Console) -> None:
    old, new = _builds()
    await provision(console.api, "shop", "postgresql")
    base = "/console/databases/shop"
    page = await console.page(base)
    assert 'id="version"' in page and old.readable in page
    assert f'data-upgrade="{new.id}"' in page
    # point-in-time restore needs wal-archiving: the panel says how to turn it on
    assert 'id="pitr-off"' in page and "wal-archiving" in page

    confirm = await console.page(f"{base}/upgrade?version_id={new.id}")
    assert "Clients are refused" in confirm and new.readable in confirm
    forged = await console.post(f"{base}/upgrade", csrf="forged", version_id=new.id)
    assert forged.status_code == 403
    assert (await console.api.get("/v1/databases/shop")).json()["database"][
        "version_id"] == old.id
    csrf = await console.csrf(base)
    op = await console.operation_of(await console.post(f"{base}/upgrade", csrf=csrf,
                                                       version_id=new.id))
    assert op["status"] == "done" and op["type"] == "managed.upgrade", op
    page = await console.page(base)
    assert 'id="previous-version"' in page and old.readable in page
    assert re.search(r'id="running-version">16\.', page)

    confirm = await console.page(f"{base}/upgrade/rollback")
    assert "is lost" in confirm
    op = await console.operation_of(await console.post(f"{base}/upgrade/rollback",
                                                       csrf=csrf))
    assert op["status"] == "done", op
    page = await console.page(base)
    assert re.search(r'id="running-version">15\.', page)
    assert 'id="previous-version"' not in page
    # nothing kept now: the removal is refused on an error page naming why
    refused = await console.post(f"{base}/upgrade/previous", csrf=csrf)
    assert refused.status_code == 409 and "DBP-G303" in refused.text


async def test_drills_and_refusals_on_the_page(console: Console) -> None:
    await provision(console.api, "cache", "redis")
    page = await console.page("/console/databases/cache")
    assert 'id="no-newer"' in page and "no newer version" in page
    assert 'id="pitr"' not in page  # Redis has no point-in-time restore
    csrf = await console.csrf("/console/databases/cache")
    refused = await console.post("/console/databases/cache/upgrade", csrf=csrf)
    assert refused.status_code == 409 and "DBP-G301" in refused.text
    bad_time = await console.post("/console/databases/cache/pitr", csrf=csrf,
                                  restore_time="yesterday")
    assert bad_time.status_code == 422 and "restore_time" in bad_time.text

    # a restore drill of the default database's backup, from the backups list
    backup = (await console.api.post("/v1/databases/default/backups")).json()
    await wait_operation(console.api, backup["id"])
    backup_id = backup["params"]["backup_id"]
    page = await console.page("/console/databases/default")
    assert f'data-verify="{backup_id}"' in page
    forged = await console.post(f"/console/databases/default/backups/{backup_id}/verify",
                                csrf="forged")
    assert forged.status_code == 403
    op = await console.operation_of(await console.post(
        f"/console/databases/default/backups/{backup_id}/verify", csrf=csrf))
    assert op["status"] == "done" and op["result"]["status"] == "passed", op
    page = await console.page("/console/databases/default")
    row = re.search(rf'data-backup="{backup_id}".*?</tr>', page, re.S)
    assert row is not None and "passed" in row.group(0)

    assert (await console.post("/console/databases/default/restore-drills", csrf=csrf,
                               enabled="on")).status_code == 303
    db = (await console.api.get("/v1/databases/default")).json()["database"]
    assert db["restore_drills_enabled"] is True
    await console.post("/console/databases/default/restore-drills", csrf=csrf)
    await asyncio.sleep(0)
    db = (await console.api.get("/v1/databases/default")).json()["database"]
    assert db["restore_drills_enabled"] is False
