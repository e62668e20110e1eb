"""``dbplane backups verify`` and ``databases update --restore-drills`` against the live
server, on a SQLite file of the test's own."""

from __future__ import annotations

import sqlite3
import uuid
from pathlib import Path

from dbplane import ApiClient
from tests.cli.conftest import Cli


def test_verify_waits_and_shows_the_drill(cli: Cli, client: ApiClient,
                                          tmp_path: Path) -> None:
    path = tmp_path / "drill.db"
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT)")
    con.execute("INSERT INTO items VALUES (1, 'a'), (2, 'b')")
    con.commit()
    con.close()
    name = f"cli-drill-{uuid.uuid4().hex[:8]}"
    client.databases.create(name, url=f"sqlite:///{path}")
    try:
        made = cli.json("backups", "create", "--db", name, "--wait")
        shown = cli.json("backups", "verify", made["id"], "--db", name, "--wait")
        assert shown["id"] == made["id"]
        assert shown["verification"] == {"status": "passed", "differences": []}
        # the order, DB then ID, is the same command
        human = cli.ok("backups", "verify", name, made["id"], "--wait").stdout
        assert "passed" in human and "verified_at" in human

        started = cli.json("backups", "verify", made["id"], "--db", name)
        assert started["type"] == "backup.verify"
        client.operations.get(started["id"]).wait(timeout=60)

        missing = cli.fails("backups", "verify", "nope", "--db", name)
        assert "(DBP-B101)" in missing.stderr

        updated = cli.json("databases", "update", name, "--restore-drills")
        assert updated["restore_drills_enabled"] is True
        assert updated["last_verified_backup"]["id"] == made["id"]
        assert updated["last_verified_backup"]["status"] == "passed"
        human = cli.ok("databases", "show", name).stdout
        assert "after every periodic backup" in human and made["id"] in human
        off = cli.json("databases", "update", name, "--no-restore-drills")
        assert off["restore_drills_enabled"] is False
    finally:
        client.databases.delete(name)
