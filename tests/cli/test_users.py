"""``dbplane users``: each command in table and ``--json`` mode; passwords are prompted
for and never printed."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from dbplane import ApiClient
from tests.cli.conftest import Cli
from tests.fixtures.services import unique_name

PASSWORD = "a long secret 123"


@pytest.fixture
def role(client: ApiClient) -> Iterator[str]:
    name = unique_name("staff")
    client.roles.create(name, [{"database": "*", "table": "*", "actions": ["read"]}])
    yield name
    for user in client.users.list():
        if user["role"] == name:
            client.users.delete(user["id"])
    client.roles.delete(name)


def test_add_with_a_prompted_password(cli: Cli, client: ApiClient, role: str) -> None:
    email = f"{unique_name('kate')}@example.com"
    result = cli.ok("users", "add", "--name", "Kate", "--email", email, "--role", role,
                    input=f"{PASSWORD}\n{PASSWORD}\n")
    assert PASSWORD not in result.output
    assert "Password" in result.stderr and "Password" not in result.stdout
    assert re.search(rf"email\s+{re.escape(email)}", result.stdout)
    assert re.search(rf"role\s+{role}", result.stdout)
    assert client.auth.login(email, PASSWORD)["user"]["email"] == email


def test_a_prompted_password_must_be_repeated(cli: Cli, role: str) -> None:
    result = cli("users", "add", "--name", "Kate", "--email", "k@example.com", "--role",
                 role, input=f"{PASSWORD}\nsomething else\n")
    assert result.exit_code != 0
    assert PASSWORD not in result.output


def test_add_list_show_update_remove_in_json(cli: Cli, role: str) -> None:
    email = f"{unique_name('bob')}@example.com"
    user = cli.json("users", "add", "--name", "Bob", "--email", email, "--role", role,
                    "--password", PASSWORD)
    assert (user["name"], user["email"], user["role"]) == ("Bob", email, role)
    assert set(user) == {"id", "name", "email", "role", "created_on", "updated_on"}

    assert user["id"] in [u["id"] for u in cli.json("users", "list")]
    assert cli.json("users", "show", user["id"]) == user

    updated = cli.json("users", "update", user["id"], "--name", "Robert", "--password",
                       PASSWORD + "!")
    assert updated["name"] == "Robert" and updated["email"] == email

    assert cli.json("users", "remove", user["id"], "--yes") == {"removed": user["id"]}
    result = cli.fails("users", "show", user["id"])
    assert result.stderr == f"error: no user has the id {user['id']!r} (DBP-U101)\n"


def test_list_show_update_remove_in_tables(cli: Cli, client: ApiClient, role: str) -> None:
    email = f"{unique_name('ann')}@example.com"
    user = client.users.create("Ann", email, PASSWORD, role)

    row = next(line for line in cli.ok("users", "list").stdout.splitlines()
               if user["id"] in line)
    assert row.split()[:4] == [user["id"], "Ann", email, role]

    out = cli.ok("users", "show", user["id"]).stdout
    assert re.search(r"name\s+Ann", out) and re.search(rf"id\s+{user['id']}", out)

    out = cli.ok("users", "update", user["id"], "--role", "admin").stdout
    assert re.search(r"role\s+admin", out)

    out = cli.ok("users", "remove", user["id"], "--yes").stdout
    assert out == f"removed user {user['id']!r}\n"


def test_errors(cli: Cli, role: str) -> None:
    result = cli.fails("users", "add", "--name", "X", "--email", "x@example.com", "--role",
                       unique_name("norole"), "--password", PASSWORD)
    assert result.stderr.rstrip().endswith("(DBP-U201)")

    result = cli.fails("users", "add", "--name", "X", "--email", "not-an-email", "--role",
                       role, "--password", "tiny7")
    assert "tiny7" not in result.output
    assert "  email:" in result.stderr and "  password:" in result.stderr

    cli.fails("users", "update", "some-id", exit_code=2)
    cli.fails("users", "add", "--name", "X", "--email", "x@example.com", exit_code=2)
