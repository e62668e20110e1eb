"""``dbplane operations`` against the live server: check, list, show, wait, cancel."""

from __future__ import annotations

import time

from dbplane import ApiClient
from tests.cli.conftest import Cli


def test_check_show_list_and_wait(cli: Cli) -> None:
    op = cli.json("operations", "check", "default", "--samples", "2")
    assert op["status"] == "done" and op["result"]["reachable"] is True
    shown = cli.ok("operations", "show", op["id"]).stdout
    for text in (op["id"], "database.check", "done", "connect", "latency", "100%"):
        assert text in shown
    assert cli.json("operations", "show", op["id"])["id"] == op["id"]
    listed = cli.json("operations", "list", "--database", "default", "--type",
                      "database.check", "--status", "done")
    assert op["id"] in [o["id"] for o in listed]
    assert all(o["status"] == "done" for o in listed)
    table = cli.ok("operations", "list", "--type", "database.check").stdout
    assert op["id"] in table and "TYPE" in table
    waited = cli.ok("operations", "wait", op["id"]).stdout
    assert f"database.check {op['id']}: done" in waited


def test_check_no_wait_prints_the_id(cli: Cli, client: ApiClient) -> None:
    op_id = cli.ok("operations", "check", "default", "--no-wait").stdout.strip()
    assert client.operations.get(op_id).wait(timeout=30)["status"] == "done"


def test_cancel_then_wait_exits_1(cli: Cli, client: ApiClient) -> None:
    op = client.operations.check("default", samples=100, interval_ms=100)
    while op.refresh()["status"] == "pending":
        time.sleep(0.02)
    said = cli.ok("operations", "cancel", op.id).stdout
    assert "cancel requested" in said
    result = cli.fails("operations", "wait", op.id)
    assert "DBP-O401" in result.stderr and op.id in result.stderr
    assert client.operations.get(op.id)["status"] == "canceled"
    again = cli.fails("operations", "cancel", op.id)
    assert "DBP-O302" in again.stderr and "already ended" in again.stderr


def test_unknown_and_bad_options(cli: Cli) -> None:
    assert "DBP-O101" in cli.fails("operations", "show", "nope").stderr
    bad = cli.fails("operations", "list", "--status", "sleeping")
    assert "status" in bad.stderr
    cli.fails("operations", "check", "default", "--samples", "0", exit_code=2)
