"""``dbplane migrate / rollback / migrations / factory / seed / files / make`` against a
real server with a project directory of its own."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from dbplane import ApiClient
from tests.cli.conftest import Cli
from tests.client.test_routines import ProjectServer, run_project_server


@pytest.fixture(scope="module")
def project_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProjectServer]:
    yield from run_project_server(tmp_path_factory.mktemp("routines-cli"))


@pytest.fixture
def pcli(project_server: ProjectServer) -> Cli:
    return Cli(project_server)


def test_make_then_migrate_factory_seed_and_rollback(project_server: ProjectServer,
                                                     pcli: Cli) -> None:
    root = project_server.project_dir
    out = pcli.ok("make", "migration", "create_roles", "--project-dir", str(root)).stdout
    assert "0001_create_roles.up.sql" in out and "0001_create_roles.down.sql" in out
    (root / "migrations/0001_create_roles.up.sql").write_text(
        "CREATE TABLE roles (name VARCHAR(40) PRIMARY KEY, label VARCHAR(80));")
    (root / "migrations/0001_create_roles.down.sql").write_text("DROP TABLE roles;")
    pcli.ok("make", "migration", "add_index", "--python", "--project-dir", str(root))
    (root / "migrations/0002_add_index.py").write_text(
        "def upgrade(op):\n    op.create_index('ix_roles_label', 'roles', ['label'])\n\n\n"
        "def downgrade(op):\n    op.drop_index('ix_roles_label', 'roles')\n")
    pcli.ok("make", "factory", "roles", "--project-dir", str(root))
    (root / "factories/roles.yaml").write_text(
        "table: roles\ncount: 5\ncolumns:\n  name: {sequence: 'r{n}'}\n  label: word\n")
    pcli.ok("make", "seeder", "roles", "--project-dir", str(root))
    (root / "seeders/roles.yaml").write_text(
        "table: roles\nkey: [name]\nrows:\n  - {name: admin, label: Administrator}\n")

    pretend = pcli.ok("migrate", "--pretend").stdout
    assert "CREATE TABLE roles" in pretend and "CREATE INDEX ix_roles_label" in pretend
    assert "Migrations complete" in pcli.ok("migrate").stdout
    assert "Nothing to migrate" in pcli.ok("migrate").stdout
    listed = pcli.json("migrations")
    assert [(m["migration"], m["status"]) for m in listed] == [
        ("0001_create_roles", "applied"), ("0002_add_index", "applied")]
    assert "0001_create_roles" in pcli.ok("migrations").stdout

    assert "Factory created: 3 rows in roles" in pcli.ok(
        "factory", "factories/roles.yaml", "--count", "3").stdout
    files = pcli.json("files", "--kind", "seeder")
    assert [f["path"] for f in files] == ["seeders/roles.yaml"]
    assert "1 inserted" in pcli.ok("seed", files[0]["file_id"]).stdout
    assert "0 inserted, 1 updated" in pcli.ok("seed", "roles.yaml").stdout

    rolled = pcli.json("rollback", "--steps", "1", "--yes")
    assert [m["migration"] for m in rolled["rolled_back"]] == ["0002_add_index"]
    assert "rolled back 0001_create_roles" in pcli.ok("rollback", "--yes").stdout


def test_errors_are_one_line_with_the_code(pcli: Cli, tmp_path: Path) -> None:
    result = pcli.fails("factory", "no-such-file")
    assert "(DBP-R101)" in result.stderr
    result = pcli.fails("migrate", "--db", "ghost")
    assert "(DBP-D101)" in result.stderr
    pcli.fails("make", "migration", "bad name", "--project-dir", str(tmp_path),
               exit_code=2)
    pcli.fails("make", "nonsense", "x", "--project-dir", str(tmp_path), exit_code=2)


def test_make_templates_run_as_written(project_server: ProjectServer, pcli: Cli) -> None:
    """``make migration create_X --python``, ``make factory X`` and ``make seeder X``
    write files that run untouched, in that order (into a database's own folders)."""
    root = project_server.project_dir
    with ApiClient(project_server.token, project_server.base_url) as client:
        client.databases.create("made")
    for args in (("migration", "create_gadgets", "--python"), ("migration", "notes"),
                 ("factory", "gadgets"), ("seeder", "gadgets")):
        pcli.ok("make", *args, "--db", "made", "--project-dir", str(root))
    assert (root / "made/migrations/0001_create_gadgets.py").is_file()
    assert "DROP TABLE notes" in (root / "made/migrations/0002_notes.down.sql").read_text()
    ran = pcli.json("migrate", "--db", "made")
    assert [m["migration"] for m in ran["applied"]] == ["0001_create_gadgets", "0002_notes"]
    assert "Factory created: 50 rows in gadgets" in pcli.ok(
        "factory", "made/factories/gadgets.yaml", "--db", "made").stdout
    assert "1 inserted, 0 updated" in pcli.ok("seed", "made/seeders/gadgets.yaml",
                                              "--db", "made").stdout
    assert "0 inserted, 1 updated" in pcli.ok("seed", "made/seeders/gadgets.yaml",
                                              "--db", "made").stdout
    rolled = pcli.json("rollback", "--db", "made", "--yes")
    assert [m["migration"] for m in rolled["rolled_back"]] == ["0002_notes",
                                                               "0001_create_gadgets"]
