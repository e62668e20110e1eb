"""``db.action(name, params)`` against the live server, sync and async: the result of
``{"ok": 1}``, and the error class of ``{"ok": 0}``'s code with the server's message."""

from __future__ import annotations

import pytest

from dbplane import ApiClient, AsyncApiClient
from dbplane.client import Database
from dbplane.errors import (
    ActionNotSupported,
    DatabaseNotFound,
    InvalidActionParams,
    InvalidField,
    LogicalDatabaseExists,
    ProtectedLogicalDatabase,
    UnknownAction,
    Unsupported,
)
from tests.fixtures.services import unique_name


def test_logical_databases_through_the_client(client: ApiClient) -> None:
    db = client.databases.create(unique_name("act"))
    name = unique_name("logical")
    assert db.action("list-databases") == [{"name": "main", "protected": True}]
    assert db.action("create-database", {"database_name": name}) == {
        "name": name, "protected": False}
    with pytest.raises(LogicalDatabaseExists) as exists:
        db.action("create-database", {"database_name": name})
    assert exists.value.status_code == 409
    assert exists.value.detail == f"there is already a database named {name!r}"
    assert [d["name"] for d in db.action("list-databases")] == ["main", name]
    assert db.action("reset-database", {"database_name": name}) is None
    assert db.action("delete-database", {"database_name": name}) is None
    assert db.action("list-databases") == [{"name": "main", "protected": True}]
    client.databases.delete(db)


def test_errors_are_the_classes_of_their_codes(client: ApiClient) -> None:
    with pytest.raises(UnknownAction) as unknown:
        client.database.action("frobnicate")
    assert unknown.value.status_code == 400
    assert unknown.value.detail.startswith("action_name: 'frobnicate' is not an action")
    with pytest.raises(ActionNotSupported) as unsupported:
        client.database.action("get-sqlmode")
    assert isinstance(unsupported.value, Unsupported)
    assert "not an action of sqlite databases" in unsupported.value.detail
    with pytest.raises(InvalidActionParams, match=r"params\.database_name: 'a/b' is not a "
                       r"valid database name"):
        client.database.action("create-database", {"database_name": "a/b"})
    with pytest.raises(ProtectedLogicalDatabase):
        client.database.action("delete-database", {"database_name": "main"})
    with pytest.raises(InvalidField) as body:
        client.database.action("list-actions", 5)  # type: ignore[arg-type]
    assert body.value.status_code == 422
    with pytest.raises(DatabaseNotFound):
        Database(client.database._http, {"id": "nope"}).action("list-actions")


async def test_async_action(aclient: AsyncApiClient) -> None:
    actions = await aclient.database.action("list-actions")
    assert [a["name"] for a in actions][:2] == ["list-actions", "list-databases"]
    with pytest.raises(UnknownAction):
        await aclient.database.action("frobnicate")
    db = await aclient.databases.get("default")
    assert await db.action("list-databases", None) == [{"name": "main", "protected": True}]
