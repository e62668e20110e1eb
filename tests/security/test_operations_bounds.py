"""Operation parameters are bounded, and a backup is not starved behind other queued
work: one worker of several is kept for backups and restores, which are claimed first."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager

from dbplane.api.app import create_app
from tests.conftest import ADMIN_TOKEN, make_settings


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(make_settings(tmp_path / "data", operation_workers=2))
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://dbplane.test",
                                     headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
                                     ) as c:
            yield c


@pytest.mark.parametrize("params", [{"samples": 1000}, {"interval_ms": 60_001},
                                    {"samples": 100, "interval_ms": 601}])
async def test_a_check_lasting_past_a_minute_is_refused(client: httpx.AsyncClient,
                                                        params: dict[str, int]) -> None:
    answer = await client.post("/v1/databases/default/check", json=params)
    assert answer.status_code == 422, answer.text
    problem = answer.json()
    assert any(k in problem["detail"] for k in ("samples", "interval_ms")), problem


async def _wait(client: httpx.AsyncClient, location: str, seconds: float) -> dict[str, Any]:
    for _ in range(int(seconds / 0.05)):
        op: dict[str, Any] = (await client.get(location)).json()
        if op["status"] not in ("pending", "running"):
            return op
        await asyncio.sleep(0.05)
    raise AssertionError(f"{location} did not end within {seconds} s")


async def test_a_backup_is_not_starved_behind_queued_checks(
        client: httpx.AsyncClient) -> None:
    checks = []
    for _ in range(6):  # each a minute long: far more than the workers
        started = await client.post("/v1/databases/default/check",
                                    json={"samples": 100, "interval_ms": 600})
        assert started.status_code == 202, started.text
        checks.append(started.headers["location"])
    try:
        await asyncio.sleep(0.3)
        backup = await client.post("/v1/databases/default/backups")
        assert backup.status_code == 202, backup.text
        op = await _wait(client, backup.headers["location"], 15)
        assert op["status"] == "done", op
    finally:
        for location in checks:
            await client.post(f"{location}/cancel")
