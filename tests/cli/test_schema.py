"""``dbplane schema`` against a live server: snapshot to a YAML file, diff it, apply it
with the plan shown (destructive changes marked), asking unless --yes."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from dbplane import ApiClient
from tests.cli.conftest import Cli

TARGET = {
    "version": 1, "vendor": "sqlite",
    "collections": [{"collection": "pets", "meta": None, "schema": {"name": "pets"}}],
    "fields": [
        {"collection": "pets", "field": "id", "type": "integer", "meta": None,
         "schema": {"is_primary_key": True, "has_auto_increment": True,
                    "is_nullable": False}},
        {"collection": "pets", "field": "name", "type": "string", "meta": None,
         "schema": {"max_length": 40}},
    ],
    "relations": [],
}


@pytest.fixture
def db(client: ApiClient, tmp_path: Path) -> Iterator[str]:
    sqlite3.connect(tmp_path / "cli.db").close()
    name = f"cli{uuid.uuid4().hex[:8]}"
    client.databases.create(name, url=f"sqlite:///{tmp_path / 'cli.db'}")
    yield name
    client.databases.delete(name)


def test_snapshot_diff_apply(cli: Cli, db: str, tmp_path: Path) -> None:
    target = tmp_path / "target.yaml"
    target.write_text(yaml.safe_dump(TARGET))
    shown = cli.ok("schema", "diff", str(target), "--db", db).stdout
    assert "+ create collection pets" in shown
    assert "+ create field pets.name (string)" in shown
    assert "CREATE TABLE pets" in cli.ok("schema", "diff", str(target), "--db", db,
                                         "--sql").stdout
    # asked, and refused: nothing applied
    refused = cli("schema", "apply", str(target), "--db", db, input="n\n")
    assert refused.exit_code == 1
    assert "nothing applied" in refused.stderr
    assert "pets" not in cli.ok("schema", "snapshot", "--db", db).stdout
    cli.ok("schema", "apply", str(target), "--db", db, "--yes")
    assert cli.ok("schema", "diff", str(target), "--db", db).stdout == "no difference\n"

    exported = tmp_path / "schema.yaml"
    exported.write_text(cli.ok("schema", "snapshot", "--yaml", "--db", db).stdout)
    snap = yaml.safe_load(exported.read_text())
    assert [c["collection"] for c in snap["collections"]] == ["pets"]
    # drop a field: marked destructive, and confirmed
    snap["fields"] = [f for f in snap["fields"] if f["field"] != "name"]
    exported.write_text(yaml.safe_dump(snap))
    out = cli("schema", "apply", str(exported), "--db", db, input="y\n")
    assert out.exit_code == 0, out.output
    assert "- drop field pets.name   [destructive]" in out.stdout
    assert "1 of them destructive" in out.stdout
    assert "name" not in [f["field"] for f in yaml.safe_load(
        cli.ok("schema", "snapshot", "--yaml", "--db", db).stdout)["fields"]]


def test_default_database(cli: Cli) -> None:
    snap = yaml.safe_load(cli.ok("schema", "snapshot").stdout)
    assert snap["vendor"] == "sqlite" and snap["version"] == 1


def test_errors(cli: Cli, db: str, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("a: [b")
    cli.fails("schema", "diff", str(bad), "--db", db, exit_code=2)
    other = tmp_path / "pg.json"
    other.write_text('{"version": 1, "vendor": "postgres", "collections": [], '
                     '"fields": [], "relations": []}')
    result = cli.fails("schema", "diff", str(other), "--db", db)
    assert "DBP-H102" in result.stderr
