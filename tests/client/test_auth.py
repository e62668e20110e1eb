"""Users, roles, sessions and API tokens through the client, sync and async."""

from __future__ import annotations

import pytest

from dbplane import ApiClient, AsyncApiClient
from dbplane.errors import (
    AdminRequired,
    InvalidCredentials,
    InvalidToken,
    MissingToken,
    NotAUserSession,
    RoleInUse,
    RoleNotFound,
    TokenNotFound,
    UserExists,
    UserNotFound,
)
from tests.conftest import LiveServer
from tests.fixtures.services import unique_name

PASSWORD = "correct horse battery"


def test_users_roles_and_a_session(client: ApiClient) -> None:
    db = client.databases.create(unique_name("granted"))
    role = unique_name("reader")
    created_role = client.roles.create(
        role, [{"database": db["resource_id"], "table": "*", "actions": ["read"]}],
        description="reads one database")
    assert created_role["grants"] == [
        {"database": db["resource_id"], "table": "*", "actions": ["read"]}]
    assert client.roles.get(role)["description"] == "reads one database"
    assert role in [r["name"] for r in client.roles.list()]

    email = f"{unique_name('kate')}@example.com"
    user = client.users.create("Kate", email, PASSWORD, role)
    assert (user["name"], user["email"], user["role"]) == ("Kate", email, role)
    assert "password" not in user and "password_hash" not in user
    assert client.users.get(user["id"]) == user
    assert user["id"] in [u["id"] for u in client.users.list()]
    with pytest.raises(UserExists):
        client.users.create("Kate again", email, PASSWORD, role)

    session = client.auth.login(email, PASSWORD)
    assert session["user"]["id"] == user["id"]
    assert session["token"] and session["expires_on"] > 0 and session["expires_at"]
    kate = client.with_token(session["token"])
    assert kate.base_url == client.base_url
    assert kate.user() == kate.auth.user()
    assert kate.user()["email"] == email
    assert [d["resource_id"] for d in kate.databases.list()] == [db["resource_id"]]
    with pytest.raises(AdminRequired) as info:
        kate.users.list()
    assert info.value.status_code == 403

    with pytest.raises(RoleInUse):
        client.roles.delete(role)
    renamed = client.users.update(user["id"], name="Kate B")
    assert renamed["name"] == "Kate B"
    updated_role = client.roles.update(role, grants=[])
    assert updated_role["grants"] == []

    kate.auth.logout()
    with pytest.raises(InvalidToken):
        kate.user()

    client.users.delete(user["id"])
    with pytest.raises(UserNotFound):
        client.users.get(user["id"])
    client.roles.delete(role)
    with pytest.raises(RoleNotFound):
        client.roles.get(role)
    client.databases.delete(db)


async def test_async_users_roles_and_a_session(aclient: AsyncApiClient) -> None:
    role = unique_name("writer")
    await aclient.roles.create(role, [{"database": "*", "table": "orders",
                                       "actions": ["read", "create"]}])
    assert (await aclient.roles.update(role, description="writes orders"))[
        "description"] == "writes orders"
    email = f"{unique_name('bob')}@example.com"
    user = await aclient.users.create("Bob", email, PASSWORD, role)
    assert (await aclient.users.get(user["id"]))["email"] == email
    assert user["id"] in [u["id"] for u in await aclient.users.list()]
    assert role in [r["name"] for r in await aclient.roles.list()]
    assert (await aclient.roles.get(role))["grants"][0]["table"] == "orders"

    session = await aclient.auth.login(email, PASSWORD)
    bob = aclient.with_token(session["token"])
    assert (await bob.user())["id"] == user["id"]
    await bob.auth.logout()
    with pytest.raises(InvalidToken):
        await bob.user()

    assert (await aclient.users.update(user["id"], role="admin"))["role"] == "admin"
    await aclient.users.delete(user["id"])
    await aclient.roles.delete(role)
    with pytest.raises(RoleNotFound):
        await aclient.roles.get(role)


def test_a_wrong_password(client: ApiClient) -> None:
    with pytest.raises(InvalidCredentials) as info:
        client.auth.login("nobody@example.com", "not the password")
    assert (info.value.code, info.value.status_code) == (
        "DBP-A103", 401)


def test_an_api_token_is_not_a_session(client: ApiClient) -> None:
    with pytest.raises(NotAUserSession):
        client.user()
    with pytest.raises(NotAUserSession):
        client.auth.logout()


def test_a_wrong_token(live_server: LiveServer) -> None:
    with ApiClient("dbp_not-a-token", live_server.base_url) as c, \
            pytest.raises(InvalidToken) as info:
        c.databases.list()
    assert (info.value.code, info.value.status_code) == (
        "DBP-A102", 401)


async def test_async_a_wrong_token(live_server: LiveServer) -> None:
    async with AsyncApiClient("dbp_not-a-token", live_server.base_url) as c:
        with pytest.raises(InvalidToken):
            await c.databases.list()


def test_no_token(live_server: LiveServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DBPLANE_TOKEN", raising=False)
    with ApiClient(base_url=live_server.base_url) as c, pytest.raises(MissingToken):
        c.databases.list()


def test_tokens_create_list_revoke(client: ApiClient) -> None:
    name = unique_name("ci")
    created = client.tokens.create(name)
    assert created["name"] == name and created["source"] == "api"
    assert created["token"].startswith(created["prefix"])
    listed = {t["id"]: t for t in client.tokens.list()}
    assert listed[created["id"]]["prefix"] == created["prefix"]
    assert "token" not in listed[created["id"]]

    with client.with_token(created["token"]) as ci:
        assert ci.databases.get("default")["resource_id"] == "default"
        client.tokens.revoke(created["id"])
        with pytest.raises(InvalidToken):
            ci.databases.list()
    assert created["id"] not in [t["id"] for t in client.tokens.list()]
    with pytest.raises(TokenNotFound):
        client.tokens.revoke(created["id"])


async def test_async_tokens_create_list_revoke(aclient: AsyncApiClient) -> None:
    created = await aclient.tokens.create(unique_name("ci"))
    assert created["id"] in [t["id"] for t in await aclient.tokens.list()]
    ci = aclient.with_token(created["token"])
    assert (await ci.health())["status"] == "ok"
    assert len(await ci.databases.list()) >= 1
    await aclient.tokens.revoke(created["id"])
    with pytest.raises(InvalidToken):
        await ci.databases.list()
    await ci.close()  # shares aclient's pool: closing it leaves aclient open
    assert (await aclient.database.get())["resource_id"] == "default"
