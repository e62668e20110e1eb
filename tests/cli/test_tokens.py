"""``dbplane tokens``: create (the token shown once), list and revoke."""

from __future__ import annotations

import re

from tests.cli.conftest import Cli
from tests.fixtures.services import unique_name


def test_create_list_revoke_in_json(cli: Cli) -> None:
    name = unique_name("ci")
    created = cli.json("tokens", "create", name)
    assert created["name"] == name and created["token"].startswith(created["prefix"])

    listed = {t["id"]: t for t in cli.json("tokens", "list")}
    assert listed[created["id"]]["name"] == name
    assert "token" not in listed[created["id"]]

    assert cli.json("databases", "show", "default", token=created["token"])["resource_id"] \
        == "default"
    assert cli.json("tokens", "revoke", created["id"], "--yes") == {"revoked": created["id"]}
    result = cli.fails("databases", "list", token=created["token"])
    assert result.stderr.rstrip().endswith("(DBP-A102)")


def test_create_list_revoke_in_tables(cli: Cli) -> None:
    name = unique_name("deploy")
    result = cli.ok("tokens", "create", name)
    match = re.search(r"token\s+(dbp_\S+)", result.stdout)
    assert match is not None
    assert "cannot be shown again" in result.stderr
    token_id = re.search(r"id\s+(\S+)", result.stdout)
    assert token_id is not None

    row = next(line for line in cli.ok("tokens", "list").stdout.splitlines()
               if token_id[1] in line)
    assert row.split()[:4] == [token_id[1], name, match[1][:8], "api"]
    assert match[1] not in cli.ok("tokens", "list").stdout

    out = cli.ok("tokens", "revoke", token_id[1], "--yes").stdout
    assert out == f"revoked token {token_id[1]!r}\n"
    result = cli.fails("tokens", "revoke", token_id[1], "--yes")
    assert result.stderr == f"error: no API token has the id {token_id[1]!r} (DBP-A301)\n"
