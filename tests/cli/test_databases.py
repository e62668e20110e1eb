"""``dbplane databases``: each command in table and ``--json`` mode."""

from __future__ import annotations

import re

from dbplane import ApiClient
from tests.cli.conftest import Cli
from tests.fixtures.services import unique_name


def test_add_show_update_remove_in_tables(cli: Cli, client: ApiClient) -> None:
    rid = unique_name("shop")
    out = cli.ok("databases", "add", rid, "--app-name", "The shop").stdout
    assert re.search(rf"resource_id\s+{rid}\b", out)
    assert re.search(r"app_name\s+The shop", out)
    assert re.search(r"status\s+running", out)
    db_id = client.databases.get(rid)["id"]

    out = cli.ok("databases", "list").stdout
    row = next(line for line in out.splitlines() if rid in line)
    assert row.split()[:5] == [rid, "sqlite", client.databases.get(rid)["readable_version"],
                               "running", "embedded"]
    assert db_id in row

    assert re.search(rf"id\s+{db_id}", cli.ok("databases", "show", rid).stdout)
    assert re.search(rf"resource_id\s+{rid}", cli.ok("databases", "show", db_id).stdout)

    out = cli.ok("databases", "update", rid, "--backups", "--backup-hour", "5",
                 "--backup-hour", "3").stdout
    assert re.search(r"backups\s+on, 03:00, 05:00 UTC", out)
    assert client.databases.get(rid)["periodic_backups_scheduled_at"] == [3, 5]
    out = cli.ok("databases", "update", rid, "--no-backups").stdout
    assert re.search(r"backups\s+off", out)

    out = cli.ok("databases", "remove", rid).stdout
    assert out == f"removed database {rid!r} (its data is left in place)\n"
    assert rid not in [d["resource_id"] for d in client.databases.list()]


def test_add_show_update_remove_in_json(cli: Cli) -> None:
    rid = unique_name("shop")
    added = cli.json("databases", "add", rid, "--type", "sqlite")
    assert (added["resource_id"], added["type_name"], added["mode"]) == (
        rid, "sqlite", "embedded")
    assert added["app_name"] == rid

    listed = cli.json("databases", "list")
    assert {d["resource_id"] for d in listed} >= {"default", rid}

    assert cli.json("databases", "show", added["id"]) == cli.json("databases", "show", rid)

    updated = cli.json("databases", "update", added["id"], "--backup-hour", "7",
                       "--app-name", "renamed")
    assert updated["periodic_backups_scheduled_at"] == [7]
    assert updated["app_name"] == "renamed"
    assert updated["periodic_backups_enabled"] is False

    assert cli.json("databases", "remove", rid) == {"removed": rid}
    cli.fails("databases", "show", rid)


def test_a_missing_database(cli: Cli) -> None:
    rid = unique_name("missing")
    result = cli.fails("databases", "show", rid)
    assert result.stderr == (f"error: no database has the id or resource_id {rid!r} "
                             "(DBP-D101)\n")
    cli.fails("databases", "remove", rid, "--json")


def test_an_hour_out_of_range(cli: Cli) -> None:
    result = cli.fails("databases", "update", "default", "--backup-hour", "25")
    assert "periodic_backups_scheduled_at" in result.stderr
    assert "25 is not an hour of the day" in result.stderr
    assert re.search(r"\(DBP-V\d{3}\)$", result.stderr.strip())


def test_an_unknown_type(cli: Cli) -> None:
    result = cli.fails("databases", "add", unique_name("x"), "--type", "oracle")
    assert "'oracle' is not a type dbplane serves" in result.stderr


def test_the_default_database_cannot_be_removed(cli: Cli) -> None:
    result = cli.fails("databases", "remove", "default")
    assert result.stderr.rstrip().endswith("(DBP-D402)")


def test_update_with_nothing_to_change(cli: Cli) -> None:
    result = cli.fails("databases", "update", "default", exit_code=2)
    assert "error: nothing to change" in result.stderr
