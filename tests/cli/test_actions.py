"""``dbplane action DB NAME [--param k=v ...]`` against the live server."""

from __future__ import annotations

import re

import orjson

from dbplane import ApiClient
from tests.cli.conftest import Cli
from tests.fixtures.services import unique_name


def test_action_round_trip(cli: Cli, client: ApiClient) -> None:
    db = client.databases.create(unique_name("cliact"))
    rid = db["resource_id"]
    name = unique_name("logical")
    try:
        created = cli.json("action", rid, "create-database", "--param",
                           f"database_name={name}")
        assert created == {"name": name, "protected": False}
        table = cli.ok("action", rid, "list-databases").stdout
        assert "NAME" in table and "PROTECTED" in table
        assert name in table and "main" in table and "yes" in table
        assert cli.ok("action", rid, "reset-database", "-p",
                      f"database_name={name}", "--yes").stdout == "ok\n"
        # JSON values: false is a boolean, not the string "false"
        assert cli.json("action", rid, "delete-database", "--param",
                        f"database_name={name}", "--param", "force=false", "--yes") is None
        assert cli.json("action", rid, "list-databases") == [
            {"name": "main", "protected": True}]
        names = [a["name"] for a in cli.json("action", rid, "list-actions")]
        assert names[:2] == ["list-actions", "list-databases"]
    finally:
        client.databases.delete(db)


def test_action_errors(cli: Cli) -> None:
    unknown = cli.fails("action", "default", "frobnicate")
    assert unknown.stderr.startswith("error: action_name: 'frobnicate' is not an action;")
    assert unknown.stderr.rstrip().endswith("(DBP-X101)")
    # a bare --param is the whole params: a string here, which create-database refuses
    bare = cli.fails("action", "default", "create-database", "--param", "custom-db")
    assert "takes an object" in bare.stderr and "(DBP-X103)" in bare.stderr
    typed = cli.fails("action", "default", "create-database", "--param", "database_name=5")
    assert "params.database_name: Input should be a valid string" in typed.stderr
    protected = cli.fails("action", "default", "reset-database", "-p", "database_name=main",
                          "--yes")
    assert "(DBP-X302)" in protected.stderr
    unsupported = cli.fails("action", "default", "set-sqlmode", "--param", "ANSI,NO_ZERO_DATE")
    assert "(DBP-X102)" in unsupported.stderr
    usage = cli.fails("action", "default", "create-database", "--param", "x",
                      "--param", "y=1", exit_code=2)
    assert "a bare value must be the only --param" in usage.stderr
    missing = cli.fails("action", "nope", "list-actions")
    assert "(DBP-D101)" in missing.stderr


def test_action_help(cli: Cli) -> None:
    assert re.search(r"^\W*action\s", cli.ok("--help").stdout, re.M)
    out = cli.ok("action", "--help").stdout
    assert "--param" in out and "--json" in out
    assert orjson.loads(cli.ok("action", "default", "list-databases", "--json").stdout) == [
        {"name": "main", "protected": True}]
