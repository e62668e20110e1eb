"""CLI commands: Routines (issue 6): files, migrations, factories and seeders.

``migrate``, ``rollback``, ``migrations``, ``factory``, ``seed`` and ``files`` ask the
server (its project directory; ``factory`` runs as an operation, with a progress bar).
``make`` writes a new file from a template into the local project directory
(``--project-dir``, ``DBPLANE_PROJECT_DIR``, default the working directory).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer
from rich.console import Console

from dbplane.cli._common import (
    Column,
    JsonOption,
    YesOption,
    api,
    confirm,
    print_json,
    print_rows,
    stamp,
)
from dbplane.cli.operations import wait_with_progress

if TYPE_CHECKING:
    from dbplane.client import ApiClient

__all__ = ["register"]

DbOption = Annotated[str, typer.Option(
    "--db", help="The database's id or resource_id ('default' for the default database).")]
FileArg = Annotated[str, typer.Argument(
    help="The file_id ('dbplane files'), or the file's path in the project directory.",
    show_default=False)]

FILE_COLUMNS = [
    Column("FILE_ID", lambda f: f.get("file_id"), no_wrap=True),
    Column("KIND", lambda f: f.get("kind")),
    Column("PATH", lambda f: f.get("path")),
    Column("CHECKSUM", lambda f: (f.get("checksum") or "")[:12]),
    Column("ERROR", lambda f: f.get("error")),
]
MIGRATION_COLUMNS = [
    Column("MIGRATION", lambda m: m.get("migration"), no_wrap=True),
    Column("STATUS", lambda m: m.get("status")),
    Column("BATCH", lambda m: m.get("batch")),
    Column("APPLIED AT", lambda m: stamp(m.get("applied_at")) if m.get("applied_at")
           else None),
    Column("CHECKSUM", lambda m: (m.get("checksum") or "")[:12]),
    Column("CHANGED", lambda m: m.get("changed")),
    Column("ERROR", lambda m: m.get("error")),
]


def _target(client: ApiClient, db: str) -> Any:
    from dbplane.client.databases import DefaultDatabase

    if db == DefaultDatabase.ref:
        return client.database
    return client.databases.get(db)


@contextmanager
def _working(message: str) -> Iterator[None]:
    """A spinner on stderr while the server works (only on a terminal)."""
    console = Console(stderr=True)
    if not console.is_terminal:
        yield
        return
    with console.status(message):
        yield


def _file_ref(value: str) -> str:
    return value[2:] if value.startswith("./") else value


def migrate(ctx: typer.Context, db: DbOption = "default",
            pretend: Annotated[bool, typer.Option(
                "--pretend", help="Show the SQL that would run; change nothing.")] = False,
            allow_changed: Annotated[bool, typer.Option(
                "--allow-changed", help="Go on although an applied file changed.")] = False,
            as_json: JsonOption = False) -> None:
    """Apply every pending migration of the project directory, in order."""
    with api(ctx) as client, _working("running migrations..."):
        answer = _target(client, db).migrations.run(pretend=pretend,
                                                    allow_changed=allow_changed)
    if as_json:
        print_json(answer)
        return
    if pretend:
        for mig in answer.get("migrations") or []:
            typer.echo(f"-- {mig.get('migration')} ({mig.get('path')})")
            for statement in mig.get("sql") or []:
                typer.echo(f"{statement};")
    else:
        for mig in answer.get("applied") or []:
            typer.echo(f"applied {mig.get('migration')}")
    typer.echo(str(answer.get("message")))


def rollback(ctx: typer.Context, db: DbOption = "default",
             steps: Annotated[int | None, typer.Option(
                 "--steps", min=1, help="How many migrations (default: the last batch).")
             ] = None, as_json: JsonOption = False, yes: YesOption = False) -> None:
    """Revert the last batch of migrations (or the last --steps migrations)."""
    what = f"the last {steps} migration(s)" if steps else "the last batch of migrations"
    confirm(f"Roll back {what} of {db!r}? What their down steps drop is lost.", yes)
    with api(ctx) as client, _working("rolling back..."):
        answer = _target(client, db).migrations.rollback(steps=steps)
    if as_json:
        print_json(answer)
        return
    for mig in answer.get("rolled_back") or []:
        typer.echo(f"rolled back {mig.get('migration')}")
    typer.echo(str(answer.get("message")))


def migrations(ctx: typer.Context, db: DbOption = "default",
               as_json: JsonOption = False) -> None:
    """Applied and pending migrations, with batch, time, checksum and changed files."""
    with api(ctx) as client:
        rows = _target(client, db).migrations.list()
    print_rows(rows, MIGRATION_COLUMNS, as_json)


def factory(ctx: typer.Context, file: FileArg, db: DbOption = "default",
            count: Annotated[int | None, typer.Option(
                "--count", min=0, help="How many rows (default: the file's count).")
            ] = None, as_json: JsonOption = False) -> None:
    """Run a factory: generated rows, inserted in batches (as an operation, with a
    progress bar per batch on a terminal)."""
    with api(ctx) as client:
        op = _target(client, db).factory.run(_file_ref(file), count=count, wait=False)
        from dbplane.client.operations import Operation

        assert isinstance(op, Operation)
        answer = wait_with_progress(op, quiet=as_json).get("result") or {}
    if as_json:
        print_json(answer)
    else:
        typer.echo(f"{answer.get('message')}: {answer.get('rows')} rows in "
                   f"{answer.get('table')}")


def seed(ctx: typer.Context, file: FileArg, db: DbOption = "default",
         as_json: JsonOption = False) -> None:
    """Run a seeder: fixed rows, in one transaction."""
    with api(ctx) as client, _working("seeding..."):
        answer = _target(client, db).seeder.run(_file_ref(file))
    if as_json:
        print_json(answer)
        return
    if answer.get("table") is None:
        typer.echo(f"{answer.get('message')}: {answer.get('statements')} statements")
    else:
        typer.echo(f"{answer.get('message')}: {answer.get('inserted')} inserted, "
                   f"{answer.get('updated')} updated in {answer.get('table')}")


def files(ctx: typer.Context,
          kind: Annotated[str | None, typer.Option(
              "--kind", help="migration, factory or seeder.")] = None,
          as_json: JsonOption = False) -> None:
    """Every file of the server's project directory, with its file_id."""
    with api(ctx) as client:
        rows = client.files.list(kind)
    print_rows(rows, FILE_COLUMNS, as_json)


# -- make -------------------------------------------------------------------------------

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
_VERSION = re.compile(r"^(\d+)_")

_SQL_UP = """-- {name}: applied by 'dbplane migrate'. Several statements, each ending with ';'.
-- For one file that runs on SQLite, PostgreSQL and MariaDB, use --python instead.
-- CREATE TABLE {table} (id INTEGER PRIMARY KEY, name VARCHAR(100) NOT NULL);
"""
_SQL_DOWN = """-- {name}: reverted by 'dbplane rollback'.
-- DROP TABLE {table};
"""
_PYTHON = '''"""{name}: written against Alembic's operations (op), for every SQL type."""

import sqlalchemy as sa


def upgrade(op):
    op.create_table(
        "{table}",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("email", sa.String(200), unique=True),
    )


def downgrade(op):
    op.drop_table("{table}")
'''
_FACTORY = """table: {name}
count: 50
seed: 42                      # optional: the same rows every run
columns:
  name: name                  # a Faker provider by name
  email: {{faker: email, unique: true}}
  # score: {{faker: random_int, min: 0, max: 100}}
  # role: {{choice: [admin, user]}}
  # team_id: {{ref: teams.id}}
"""
_SEEDER = """table: {name}
key: [name]                   # optional: upsert on this key, so a second run adds nothing
rows:
  - {{name: example}}
"""


def _table_name(name: str) -> str:
    """The table a migration named ``create_users`` or ``users_table`` makes: ``users``."""
    table = re.sub(r"^create_", "", name)
    table = re.sub(r"_table$", "", table)
    return table or name


def _next_version(folder: Path) -> str:
    versions = [int(m.group(1)) for p in folder.glob("*") if (m := _VERSION.match(p.name))]
    return f"{max(versions, default=0) + 1:04d}"


def make(kind: Annotated[Literal["migration", "factory", "seeder"], typer.Argument(
             help="What to write.", show_default=False)],
         name: Annotated[str, typer.Argument(help="Its name (letters, digits, _ and -).",
                                             show_default=False)],
         python: Annotated[bool, typer.Option(
             "--python", help="A Python migration (Alembic operations) instead of SQL.")
         ] = False,
         db: Annotated[str | None, typer.Option(
             "--db", help="Into this database's own folder (<project>/<db>/...).")
         ] = None,
         project_dir: Annotated[Path, typer.Option(
             "--project-dir", envvar="DBPLANE_PROJECT_DIR",
             help="The project directory.")] = Path(".")) -> None:
    """Write a new migration, factory or seeder from a template (locally)."""
    if not _NAME.match(name):
        typer.echo(f"error: {name!r} is not a name: use letters, digits, _ and -", err=True)
        raise typer.Exit(2)
    base = project_dir / db if db else project_dir
    folder = base / {"migration": "migrations", "factory": "factories",
                     "seeder": "seeders"}[kind]
    folder.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    if kind == "migration":
        stem = f"{_next_version(folder)}_{name}"
        table = _table_name(name)
        if python:
            written.append(folder / f"{stem}.py")
            contents = [_PYTHON.format(name=name, table=table)]
        else:
            written += [folder / f"{stem}.up.sql", folder / f"{stem}.down.sql"]
            contents = [_SQL_UP.format(name=name, table=table),
                        _SQL_DOWN.format(name=name, table=table)]
    else:
        written.append(folder / f"{name}.yaml")
        contents = [(_FACTORY if kind == "factory" else _SEEDER).format(name=name)]
    for path in written:
        if path.exists():
            typer.echo(f"error: {path} exists already", err=True)
            raise typer.Exit(1)
    for path, text in zip(written, contents, strict=True):
        path.write_text(text)
        typer.echo(f"wrote {path}")


def register(app: typer.Typer) -> None:
    """Add this module's commands to the ``dbplane`` command."""
    app.command("migrate")(migrate)
    app.command("rollback")(rollback)
    app.command("migrations")(migrations)
    app.command("factory")(factory)
    app.command("seed")(seed)
    app.command("files")(files)
    app.command("make")(make)
