"""Every error answer has one shape, including the ones dbplane did not plan for."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from asgi_lifespan import LifespanManager

from dbplane.api.app import create_app
from tests.conftest import ADMIN_TOKEN, make_settings

PROBLEM_KEYS = {"type", "title", "status", "detail", "code"}


@pytest.fixture
async def buggy_client(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(make_settings(tmp_path / "data"))

    @app.get("/v1/test-bug")
    async def bug() -> None:
        raise RuntimeError("a bug with postgresql://u:S3cret@h/db in its message")

    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://t",
                                     headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
                                     ) as client:
            yield client


async def test_an_unexpected_exception_is_a_500_problem_without_its_message(
    buggy_client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    response = await buggy_client.get("/v1/test-bug")
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body.keys() >= PROBLEM_KEYS
    assert body["code"] == "DBP-E000"
    assert "S3cret" not in response.text
    assert any("unexpected error" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize(("method", "path", "kwargs", "status", "code"), [
    ("GET", "/v1/nowhere/at/all", {}, 404, "DBP-N001"),
    ("GET", "/v1/nowhere", {}, 404, "DBP-Q101"),  # SonicJS: the default database's table
    ("DELETE", "/v1/health", {}, 405, "DBP-V405"),
    ("GET", "/v1/databases/missing", {}, 404, "DBP-D101"),
    ("POST", "/v1/databases", {"content": b"{"}, 400, "DBP-V101"),
    ("POST", "/v1/databases", {"json": {"resource_id": 5}}, 422, "DBP-V100"),
    ("POST", "/v1/auth/login", {"json": {"email": 1}}, 422, "DBP-V100"),
    ("POST", "/v1/tokens", {"json": {}}, 422, "DBP-V100"),
    ("GET", "/v1/user", {"headers": {"Authorization": "Bearer nope"}}, 401, "DBP-A102"),
])
async def test_every_error_has_the_problem_shape(buggy_client: httpx.AsyncClient,
                                                 method: str, path: str, kwargs: dict,
                                                 status: int, code: str) -> None:
    response = await buggy_client.request(method, path, **kwargs)
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body.keys() >= PROBLEM_KEYS
    assert body["status"] == status
    assert body["code"] == code
