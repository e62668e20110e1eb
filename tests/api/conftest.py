"""Fixtures shared by the API tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.api.tables_schema import reset
from tests.conftest import AppHandle
from tests.fixtures.servers import SqlDatabase


@pytest.fixture
async def db(app_handle: AppHandle, sql_url: SqlDatabase) -> AsyncIterator[SqlDatabase]:
    """The engine's fresh database with the Tables API's test schema, registered as
    ``shop`` (test_schema.py has a ``db`` of its own)."""
    reset(sql_url)
    response = await app_handle.client.post("/v1/databases", json={
        "resource_id": "shop", "url": sql_url.url})
    assert response.status_code == 201, response.text
    yield sql_url
