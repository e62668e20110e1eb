"""``dbplane backups`` against the live server, on an embedded SQLite database."""

from __future__ import annotations

import sqlite3
import uuid
from pathlib import Path

from dbplane import ApiClient
from tests.cli.conftest import Cli


def test_create_list_download_upload_restore_delete(cli: Cli, client: ApiClient,
                                                    tmp_path: Path) -> None:
    name = f"cli-{uuid.uuid4().hex[:8]}"
    client.databases.create(name)
    try:
        made = cli.json("backups", "create", "--db", name, "--wait")
        assert made["status"] == "done" and made["method"] == "manual"
        listed = cli.ok("backups", "list", "--db", name).stdout
        assert made["id"] in listed and "done" in listed

        target = tmp_path / "archive.sqlite3"
        out = cli.ok("backups", "download", made["id"], "--db", name, "-o", str(target))
        assert str(target) in out.stdout
        con = sqlite3.connect(target)
        assert con.execute("PRAGMA quick_check").fetchone() == ("ok",)
        con.close()

        both = cli.json("backups", "upload", str(target), "--db", name, "--restore")
        assert both["backup"]["method"] == "upload"
        assert both["operation"]["status"] == "done"

        junk = tmp_path / "junk.bin"
        junk.write_bytes(b"nothing like SQLite")
        failed = cli.fails("backups", "upload", str(junk), "--db", name)
        assert "(DBP-B201)" in failed.stderr

        restored = cli.json("backups", "restore", made["id"], "--db", name, "--wait",
                            "--yes")
        assert restored["status"] == "done" and restored["type"] == "restore"

        cli.ok("backups", "delete", made["id"], "--db", name, "--yes")
        missing = cli.fails("backups", "delete", made["id"], "--db", name, "--yes")
        assert "(DBP-B101)" in missing.stderr
        remaining = cli.json("backups", "list", "--db", name)
        assert [b["id"] for b in remaining] == [both["backup"]["id"]]
    finally:
        client.databases.delete(name)
