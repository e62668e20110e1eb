"""``dbplane pitr window DB`` and ``dbplane pitr restore DB --time ... --wait`` on a real
managed PostgreSQL with wal-archiving on: the window, a refusal, the confirmation, and a
restore between two writes."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime

from dbplane import ApiClient
from tests.cli.conftest import Cli
from tests.client.test_pitr import sql, with_pitr


def test_window_and_restore(cli: Cli, client: ApiClient) -> None:
    db = with_pitr(client, cli.server.base_url, cli.server.token, "pitrcli")
    rid = db["resource_id"]
    sql(client, rid, "INSERT INTO t VALUES (1)")
    time.sleep(0.2)
    target = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    time.sleep(0.2)
    sql(client, rid, "INSERT INTO t VALUES (2)")
    out = cli.ok("pitr", "window", rid).stdout
    assert re.search(r"earliest\s+\d{4}-", out) and re.search(r"latest\s+\d{4}-", out), out
    window = cli.json("pitr", "window", rid)
    assert window["earliest"] < target < window["latest"]

    refused = cli("pitr", "restore", rid, "--time", target, input="n\n")
    assert refused.exit_code == 1 and "nothing done" in refused.stderr
    failed = cli.fails("pitr", "restore", rid, "--time", "2001-01-01T00:00:00Z", "--yes")
    assert "DBP-P102" in failed.stderr and window["earliest"] in failed.stderr
    cli.fails("pitr", "restore", rid, "--time", "soon", "--yes")

    result = cli.ok("pitr", "restore", rid, "--time", target, "--wait", "--yes")
    assert re.search(r"status\s+done", result.stdout), result.stdout
    assert "recover to the target" in result.stdout
    assert sql(client, rid, "SELECT id FROM t ORDER BY id") == ["1"]
    client.databases.delete(rid, purge=True)
