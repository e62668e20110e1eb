"""``db.versions()``, ``db.upgrade(wait=True)``, ``db.remove_previous_version()`` on a real
managed PostgreSQL 15 moved to 16, and the errors the client raises."""

from __future__ import annotations

import pytest

from dbplane import ApiClient, AsyncApiClient
from dbplane.errors import NoPreviousVersion, NotManaged, UnknownVersion
from tests.client.test_pitr import sql
from tests.fixtures.services import unique_name
from tests.managed.conftest import need_tools
from tests.managed.test_upgrade import _builds


def test_upgrade_and_remove_the_previous_version(client: ApiClient) -> None:
    need_tools()
    old, new = _builds()
    rid = unique_name("upc")
    db = client.databases.create(rid, type_name="postgresql", mode="managed")
    db.action("list-databases")  # running
    sql(client, rid, "CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t VALUES (7)")
    found = db.versions()
    assert found["current"]["id"] == old.id and found["next_version_id"] == new.id
    with pytest.raises(UnknownVersion) as info:
        db.upgrade("not-a-version")
    assert info.value.fields["field"] == "version_id"
    with pytest.raises(NoPreviousVersion):
        db.upgrade_rollback()
    op = db.upgrade(wait=True, timeout=180)
    assert op["status"] == "done" and op["type"] == "managed.upgrade"
    assert op["result"]["to"].startswith("16.")
    again = client.databases.get(rid)
    assert again["readable_version"].startswith("16.") and again["version_id"] == new.id
    assert sql(client, rid, "SELECT id FROM t") == ["7"]
    removed = db.remove_previous_version()
    assert removed["removed"]["version_id"] == old.id
    assert db.versions()["previous"] is None
    with pytest.raises(NoPreviousVersion):
        db.remove_previous_version()
    client.databases.delete(rid, purge=True)


async def test_the_async_client_refuses_a_database_not_managed(
        aclient: AsyncApiClient) -> None:
    db = await aclient.databases.get("default")
    found = await db.versions()
    assert found["current"] is None and "embedded" in found["reason"]
    with pytest.raises(NotManaged):
        await db.upgrade()
    with pytest.raises(NotManaged):
        await db.upgrade_rollback()
    with pytest.raises(NotManaged):
        await db.remove_previous_version()
