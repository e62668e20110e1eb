"""``dbplane roles``: grants written DATABASE:TABLE:ACTIONS, each command in table and
``--json`` mode."""

from __future__ import annotations

import re

import pytest
import typer

from dbplane import ApiClient
from dbplane.cli.roles import format_grant, parse_grant
from tests.cli.conftest import Cli
from tests.fixtures.services import unique_name

ALL = ["read", "create", "update", "delete"]


@pytest.mark.parametrize(("text", "grant"), [
    ("shop:orders:read", {"database": "shop", "table": "orders", "actions": ["read"]}),
    ("shop:*:read,create", {"database": "shop", "table": "*", "actions": ["read", "create"]}),
    ("*:*:*", {"database": "*", "table": "*", "actions": ALL}),
    ("db:a:b:Read, read ,DELETE", {"database": "db", "table": "a:b",
                                   "actions": ["read", "delete"]}),
])
def test_parse_grant(text: str, grant: dict[str, object]) -> None:
    assert parse_grant(text) == grant


@pytest.mark.parametrize("text", ["shop", "shop:read", ":t:read", "shop::read", "shop:t:",
                                  "shop:t:drop", "shop:t:,"])
def test_parse_grant_refuses(text: str) -> None:
    with pytest.raises(typer.BadParameter):
        parse_grant(text)


def test_format_grant_round_trips() -> None:
    assert format_grant(parse_grant("shop:*:read,create")) == "shop:*:read,create"


def test_add_list_show_update_remove_in_json(cli: Cli) -> None:
    name = unique_name("reader")
    role = cli.json("roles", "add", name, "--grant", "shop:*:read", "--grant",
                    "*:orders:read,create", "--description", "reads the shop")
    assert role["grants"] == [
        {"database": "shop", "table": "*", "actions": ["read"]},
        {"database": "*", "table": "orders", "actions": ["read", "create"]}]
    assert role["description"] == "reads the shop"

    assert name in [r["name"] for r in cli.json("roles", "list")]
    assert cli.json("roles", "show", name) == role

    updated = cli.json("roles", "update", name, "--grant", "*:*:*")
    assert updated["grants"] == [{"database": "*", "table": "*", "actions": ALL}]
    assert updated["description"] == "reads the shop"

    assert cli.json("roles", "remove", name, "--yes") == {"removed": name}
    result = cli.fails("roles", "show", name)
    assert result.stderr == f"error: no role is named {name!r} (DBP-U201)\n"


def test_add_list_show_update_remove_in_tables(cli: Cli) -> None:
    name = unique_name("writer")
    out = cli.ok("roles", "add", name, "--grant", "shop:orders:create,update").stdout
    assert re.search(r"grants\s+shop:orders:create,update", out)

    row = next(line for line in cli.ok("roles", "list").stdout.splitlines() if name in line)
    assert row.split() == [name, "-", "shop:orders:create,update"]
    assert "admin" in cli.ok("roles", "list").stdout

    out = cli.ok("roles", "show", name).stdout
    assert re.search(rf"name\s+{name}", out)

    out = cli.ok("roles", "update", name, "--description", "writes orders").stdout
    assert re.search(r"description\s+writes orders", out)
    assert re.search(r"grants\s+shop:orders:create,update", out)

    assert cli.ok("roles", "remove", name, "--yes").stdout == f"removed role {name!r}\n"


def test_errors(cli: Cli, client: ApiClient) -> None:
    result = cli.fails("roles", "add", unique_name("bad"), "--grant", "shop:read",
                       exit_code=2)
    assert "DATABASE:TABLE:ACTIONS" in result.stderr

    result = cli.fails("roles", "add", "Not A Name")
    assert result.stderr.startswith("error: name:")

    result = cli.fails("roles", "add", "admin", "--grant", "*:*:read")
    assert "The admin role is built in" in result.stderr
    assert result.stderr.rstrip().endswith("(DBP-U304)")

    name = unique_name("used")
    client.roles.create(name)
    user = client.users.create("U", f"{unique_name('u')}@example.com", "password123", name)
    try:
        result = cli.fails("roles", "remove", name, "--yes")
        assert result.stderr.rstrip().endswith("(DBP-U303)")
    finally:
        client.users.delete(user["id"])
        client.roles.delete(name)
