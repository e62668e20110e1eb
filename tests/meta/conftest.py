"""A metadata store opened on the test's backend (SQLite, or PostgreSQL where a test
asks for it)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from dbplane.meta.store import MetaStore
from tests.conftest import MetaBackend, make_settings


@pytest.fixture
async def store(tmp_path: Path, meta_backend: MetaBackend) -> AsyncIterator[MetaStore]:
    settings = make_settings(tmp_path / "data", meta_backend)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    opened = await MetaStore.open(
        settings.meta_url.get_secret_value() if settings.meta_url else None,
        settings.meta_file)
    try:
        yield opened
    finally:
        await opened.close()
