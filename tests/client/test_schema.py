"""``db.schema`` of the Python client against a live server: snapshot (JSON and YAML),
diff (None when nothing differs, SQL on request), apply, and the errors as classes."""

from __future__ import annotations

import copy
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from dbplane import ApiClient, AsyncApiClient
from dbplane.errors import SnapshotMismatch, StaleSchemaHash

TARGET = {
    "version": 1, "vendor": "sqlite",
    "collections": [{"collection": "books", "meta": {"icon": "book"},
                     "schema": {"name": "books"}}],
    "fields": [
        {"collection": "books", "field": "id", "type": "integer", "meta": None,
         "schema": {"is_primary_key": True, "has_auto_increment": True,
                    "is_nullable": False}},
        {"collection": "books", "field": "title", "type": "string", "meta": None,
         "schema": {"max_length": 100}},
    ],
    "relations": [],
}


@pytest.fixture
def db(client: ApiClient, tmp_path: Path) -> Iterator[str]:
    sqlite3.connect(tmp_path / "c.db").close()
    name = f"sch{uuid.uuid4().hex[:8]}"
    client.databases.create(name, url=f"sqlite:///{tmp_path / 'c.db'}")
    yield name
    client.databases.delete(name)


def test_snapshot_diff_apply(client: ApiClient, db: str) -> None:
    schema = client.databases.get(db).schema
    assert schema.snapshot()["collections"] == []
    diff = schema.diff(TARGET)
    assert diff is not None and len(diff["hash"]) == 40
    sql = schema.diff(TARGET, format="sql")
    assert "CREATE TABLE books" in sql
    schema.apply(diff)
    assert schema.diff(TARGET) is None
    snap = schema.snapshot()
    assert [c["collection"] for c in snap["collections"]] == ["books"]
    assert yaml.safe_load(schema.snapshot(export="yaml")) == snap
    assert schema.snapshot(exclude=["books"])["fields"] == []
    with pytest.raises(StaleSchemaHash) as stale:
        schema.apply(diff)
    assert stale.value.status_code == 409
    with pytest.raises(SnapshotMismatch):
        schema.diff({**TARGET, "vendor": "postgres"})
    assert schema.diff({**TARGET, "vendor": "postgres"}, force=True) is None


async def test_async_schema(aclient: AsyncApiClient, db: str) -> None:
    schema = (await aclient.databases.get(db)).schema
    target = copy.deepcopy(TARGET)
    diff = await schema.diff(target)
    assert diff is not None
    await schema.apply(diff)
    assert await schema.diff(target) is None
    assert "books" in await schema.snapshot(export="yaml")
