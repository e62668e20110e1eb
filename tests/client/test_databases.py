"""``client.databases`` and ``client.database`` against the live server, sync and async."""

from __future__ import annotations

import json

import pytest

from dbplane import ApiClient, AsyncApiClient
from dbplane.client import AsyncDatabase, Database
from dbplane.errors import (
    DatabaseExists,
    DatabaseNotFound,
    Invalid,
    NotFound,
    ProtectedDatabase,
)
from tests.fixtures.services import unique_name


def test_create_get_update_delete(client: ApiClient) -> None:
    rid = unique_name("shop")
    created = client.databases.create(rid, app_name="Shop")
    assert isinstance(created, Database)
    assert (created["resource_id"], created["app_name"]) == (rid, "Shop")
    assert (created["type_name"], created["mode"], created["status"]) == (
        "sqlite", "embedded", "running")
    assert created["periodic_backups_scheduled_at"] == []

    by_id = client.databases.get(created["id"])
    by_resource_id = client.databases.get(rid)
    assert by_id["id"] == by_resource_id["id"] == created["id"] == by_id.ref
    assert by_resource_id["readable_version"]

    updated = client.databases.update(rid, periodic_backups_enabled=True,
                                      periodic_backups_scheduled_at=[5, 3])
    assert updated["periodic_backups_enabled"] is True
    assert updated["periodic_backups_scheduled_at"] == [3, 5]
    assert client.databases.update(created, periodic_backups_scheduled_at=7)[
        "periodic_backups_scheduled_at"] == [7]

    assert rid in [d["resource_id"] for d in client.databases.list()]
    client.databases.delete(rid)
    with pytest.raises(DatabaseNotFound):
        client.databases.get(rid)


async def test_async_create_get_update_delete(aclient: AsyncApiClient) -> None:
    rid = unique_name("shop")
    created = await aclient.databases.create(rid, periodic_backups_scheduled_at=[1])
    assert isinstance(created, AsyncDatabase)
    assert created["periodic_backups_scheduled_at"] == [1]
    assert (await aclient.databases.get(created["id"]))["resource_id"] == rid
    assert (await aclient.databases.get(rid)).ref == created["id"]

    updated = await aclient.databases.update(rid, periodic_backups_scheduled_at=[23, 0],
                                             app_name="renamed")
    assert (updated["periodic_backups_scheduled_at"], updated["app_name"]) == (
        [0, 23], "renamed")

    listed = await aclient.databases.list()
    assert all(isinstance(d, AsyncDatabase) for d in listed)
    assert rid in [d["resource_id"] for d in listed]
    await aclient.databases.delete(created)
    with pytest.raises(DatabaseNotFound):
        await aclient.databases.get(rid)


def test_a_database_is_a_dict_that_serialises(client: ApiClient) -> None:
    db = client.database.get()
    assert isinstance(db, dict)
    assert json.loads(json.dumps(db)) == dict(db)
    assert db == client.databases.get(db.ref)


def test_the_default_database(client: ApiClient) -> None:
    default = client.database.get()
    assert default["resource_id"] == "default"
    assert default.ref == default["id"]
    with pytest.raises(ProtectedDatabase) as info:
        client.databases.delete("default")
    assert info.value.status_code == 409


async def test_async_default_database(aclient: AsyncApiClient) -> None:
    assert (await aclient.database.get())["resource_id"] == "default"


def test_not_found(client: ApiClient) -> None:
    ref = unique_name("missing")
    with pytest.raises(DatabaseNotFound) as info:
        client.databases.get(ref)
    err = info.value
    assert (err.code, err.status_code) == ("DBP-D101", 404)
    assert err.fields == {"database": ref}
    assert ref in err.detail


async def test_async_not_found(aclient: AsyncApiClient) -> None:
    with pytest.raises(DatabaseNotFound) as info:
        await aclient.databases.update(unique_name("missing"), app_name="x")
    assert info.value.status_code == 404


def test_an_hour_out_of_range_names_the_field(client: ApiClient) -> None:
    with pytest.raises(Invalid) as info:
        client.databases.update("default", periodic_backups_scheduled_at=25)
    err = info.value
    assert err.status_code == 422
    assert err.fields["field"].endswith("periodic_backups_scheduled_at")
    assert err.fields["value"] == 25
    assert "25" in err.detail


async def test_async_an_hour_out_of_range_names_the_field(aclient: AsyncApiClient) -> None:
    with pytest.raises(Invalid) as info:
        await aclient.databases.create(unique_name("shop"),
                                       periodic_backups_scheduled_at=[3, 24])
    assert info.value.fields["field"].endswith("periodic_backups_scheduled_at")


def test_a_resource_id_twice_conflicts(client: ApiClient) -> None:
    rid = unique_name("twice")
    client.databases.create(rid)
    try:
        with pytest.raises(DatabaseExists) as info:
            client.databases.create(rid)
        assert info.value.fields["value"] == rid
    finally:
        client.databases.delete(rid)


def test_a_ref_cannot_step_into_another_route(client: ApiClient) -> None:
    # quoted as one segment; the server decodes %2F and finds no route (not /v1/tokens)
    with pytest.raises(NotFound):
        client.databases.get("../tokens")
