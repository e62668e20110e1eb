"""``dbplane backups``: list, create, restore, verify, download, upload and delete a database's
backups (``--db``, default the default database), with a progress bar while waiting."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from dbplane.cli._common import (
    Column,
    JsonOption,
    YesOption,
    api,
    confirm,
    print_json,
    print_record,
    print_rows,
    size,
    stamp,
)
from dbplane.cli.operations import show_operation, wait_with_progress

if TYPE_CHECKING:
    from dbplane.client import ApiClient
    from dbplane.client.backups import Backups

__all__ = ["app", "register"]

app = typer.Typer(no_args_is_help=True, help="Backups: make, list, download, upload, "
                  "restore.")

DbOption = Annotated[str, typer.Option(
    "--db", help="The database's id or resource_id ('default' for the default database).")]
BackupArg = Annotated[str, typer.Argument(help="The backup's id (see 'dbplane backups "
                                          "list').", show_default=False)]
WaitOption = Annotated[bool, typer.Option("--wait", help="Wait for it to end, with a "
                                          "progress bar.")]

COLUMNS: list[Column] = [
    Column("ID", lambda b: b.get("id"), no_wrap=True),
    Column("NAME", lambda b: b.get("name")),
    Column("STATUS", lambda b: b.get("status")),
    Column("METHOD", lambda b: b.get("method")),
    Column("SIZE", lambda b: size(b.get("size"))),
    Column("CREATED", lambda b: stamp(b.get("created_at"))),
    Column("CHECKSUM", lambda b: b.get("checksum"), no_wrap=True),
]


def _backups(client: ApiClient, db: str) -> Backups:
    return client.databases.get(db).backups


def _show_backup(backup: dict[str, Any]) -> None:
    error = backup.get("error") or {}
    shown = {"size": size, "created_at": stamp, "finished_at": stamp}
    print_record([(k, shown[k](backup.get(k)) if k in shown else backup.get(k))
                  for k in ("id", "name", "status", "method", "type", "format", "size",
                            "checksum", "created_at", "finished_at", "operation_id",
                            "verified_at")]
                 + [("verification", _verification(backup.get("verification")))]
                 + [("error", f"{error.get('message')} ({error.get('code')})"
                     if error else None)])


def _verification(found: dict[str, Any] | None) -> str | None:
    if not found:
        return None
    names = [f"{d['name']} ({d['problem']})" for d in found.get("differences", [])]
    return str(found.get("status")) + (": " + ", ".join(names) if names else "")


@app.command("list")
def list_backups(ctx: typer.Context, db: DbOption = "default",
                 as_json: JsonOption = False) -> None:
    """The database's backups, newest first."""
    with api(ctx) as client:
        backups = _backups(client, db).list()
    print_rows(backups, COLUMNS, as_json)


@app.command("create")
def create_backup(ctx: typer.Context, db: DbOption = "default", wait: WaitOption = False,
                  as_json: JsonOption = False) -> None:
    """Start a manual backup (with --wait: wait for it and show the backup)."""
    with api(ctx) as client:
        backups = _backups(client, db)
        op = backups.create()
        from dbplane.client.operations import Operation

        assert isinstance(op, Operation)
        if not wait:
            print_json(dict(op)) if as_json else show_operation(op)
            return
        ended = wait_with_progress(op, quiet=as_json)
        backup = backups.get(str(ended["params"]["backup_id"]))
    print_json(backup) if as_json else _show_backup(backup)


@app.command("restore")
def restore_backup(ctx: typer.Context, backup_id: BackupArg, db: DbOption = "default",
                   wait: WaitOption = False, as_json: JsonOption = False,
                   yes: YesOption = False) -> None:
    """Restore a backup into the database (its checksum is verified first)."""
    confirm(f"Restore backup {backup_id!r} into {db!r}? Every change made to {db!r} since "
            "that backup is lost.", yes)
    with api(ctx) as client:
        op = _backups(client, db).restore(backup_id)
        if wait:
            op = wait_with_progress(op, quiet=as_json)
    print_json(dict(op)) if as_json else show_operation(op)


@app.command("verify")
def verify_backup(
    ctx: typer.Context, backup_id: BackupArg,
    second: Annotated[str | None, typer.Argument(
        metavar="[ID]", help="With two arguments, the first is the database and this the "
        "backup: `dbplane backups verify DB ID`.", show_default=False)] = None,
    db: DbOption = "default", wait: WaitOption = False, as_json: JsonOption = False,
) -> None:
    """Run a restore drill: restore the backup into a scratch copy (never the live
    database) and compare its tables, row counts and checksums with those recorded at
    backup time. With --wait, shows the result and exits 1 when the drill failed.
    `dbplane backups verify ID --db DB` and `dbplane backups verify DB ID` are the same."""
    if second is not None:
        db, backup_id = backup_id, second
    with api(ctx) as client:
        backups = _backups(client, db)
        op = backups.verify(backup_id)
        from dbplane.client.operations import Operation

        assert isinstance(op, Operation)
        if not wait:
            print_json(dict(op)) if as_json else show_operation(op)
            return
        wait_with_progress(op, quiet=as_json)
        backup = backups.get(backup_id)
    print_json(backup) if as_json else _show_backup(backup)
    if (backup.get("verification") or {}).get("status") != "passed":
        raise typer.Exit(1)


@app.command("download")
def download_backup(
    ctx: typer.Context, backup_id: BackupArg, db: DbOption = "default",
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", help="The file to write (default: the backup's name in the "
        "current directory).")] = None,
    as_json: JsonOption = False,
) -> None:
    """Download a backup's archive."""
    with api(ctx) as client:
        written = _backups(client, db).download(backup_id, output or Path.cwd())
    if as_json:
        print_json({"file": str(written)})
    else:
        typer.echo(f"wrote {written}")


@app.command("upload")
def upload_backup(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="The archive: a SQLite file, a pg_dump "
                                         "custom-format archive, a mariadb-dump SQL file "
                                         "or a Redis RDB file.", exists=True,
                                         dir_okay=False, show_default=False)],
    db: DbOption = "default",
    checksum: Annotated[str | None, typer.Option(
        "--checksum", help="sha256:<hex> the archive must have.")] = None,
    restore: Annotated[bool, typer.Option("--restore", help="Restore it once uploaded "
                                          "(and wait).")] = False,
    as_json: JsonOption = False,
) -> None:
    """Upload an archive made elsewhere as a backup (checked before it is kept)."""
    with api(ctx) as client:
        backups = _backups(client, db)
        backup = backups.upload(file, checksum=checksum)
        if restore:
            op = wait_with_progress(backups.restore(str(backup["id"])), quiet=as_json)
            if as_json:
                print_json({"backup": backup, "operation": dict(op)})
            else:
                _show_backup(backup)
                show_operation(op)
            return
    print_json(backup) if as_json else _show_backup(backup)


@app.command("delete")
def delete_backup(ctx: typer.Context, backup_id: BackupArg, db: DbOption = "default",
                  as_json: JsonOption = False, yes: YesOption = False) -> None:
    """Delete a backup and its archive."""
    confirm(f"Delete backup {backup_id!r} of {db!r} and its archive for good?", yes)
    with api(ctx) as client:
        _backups(client, db).delete(backup_id)
    if as_json:
        print_json({"deleted": backup_id})
    else:
        typer.echo(f"deleted backup {backup_id!r}")


def register(root: typer.Typer) -> None:
    """Add this module's commands to the ``dbplane`` command."""
    root.add_typer(app, name="backups")
