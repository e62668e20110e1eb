"""``dbplane upgrade versions|DB|rollback|remove-previous`` on a real managed PostgreSQL 15
moved to 16 and back: the table of versions, the confirmations, the progress, the
refusals."""

from __future__ import annotations

import re

from dbplane import ApiClient
from tests.cli.conftest import Cli
from tests.client.test_pitr import sql
from tests.fixtures.services import unique_name
from tests.managed.conftest import need_tools
from tests.managed.test_upgrade import _builds


def test_upgrade_then_roll_back(cli: Cli, client: ApiClient) -> None:
    need_tools()
    old, new = _builds()
    rid = unique_name("upcli")
    db = client.databases.create(rid, type_name="postgresql", mode="managed")
    db.action("list-databases")  # running
    sql(client, rid, "CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t VALUES (1)")
    out = cli.ok("upgrade", "versions", rid).stdout
    assert re.search(r"running\s+15\.", out) and re.search(r"next\s+16\.", out), out
    assert cli.json("upgrade", "versions", rid)["next_version_id"] == new.id

    refused = cli("upgrade", rid, input="n\n")
    assert refused.exit_code == 1 and "nothing done" in refused.stderr
    assert client.databases.get(rid)["version_id"] == old.id
    failed = cli.fails("upgrade", rid, "--to", "nope", "--yes")
    assert "DBP-G101" in failed.stderr and "version_id" in failed.stderr
    nothing = cli.fails("upgrade", "rollback", rid, "--yes")
    assert "DBP-G303" in nothing.stderr

    result = cli.ok("upgrade", rid, "--wait", "--yes")  # `upgrade DB` is `upgrade start DB`
    assert re.search(r"status\s+done", result.stdout), result.stdout
    assert "move the data" in result.stdout
    assert client.databases.get(rid)["readable_version"].startswith("16.")
    sql(client, rid, "INSERT INTO t VALUES (2)")

    refused = cli("upgrade", "rollback", rid, input="n\n")
    assert refused.exit_code == 1 and "lost" in refused.stdout + refused.stderr
    result = cli.ok("upgrade", "rollback", rid, "--wait", "--yes")
    assert re.search(r"status\s+done", result.stdout), result.stdout
    assert client.databases.get(rid)["readable_version"].startswith("15.")
    assert sql(client, rid, "SELECT id FROM t ORDER BY id") == ["1"]
    assert "DBP-G303" in cli.fails("upgrade", "remove-previous", rid, "--yes").stderr
    client.databases.delete(rid, purge=True)


def test_a_database_not_managed(cli: Cli) -> None:
    failed = cli.fails("upgrade", "default", "--yes")
    assert "DBP-M102" in failed.stderr
    out = cli.ok("upgrade", "versions", "default").stdout
    assert "embedded" in out
