"""``dbplane databases``: list, register, describe, change and unregister databases."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

import typer

from dbplane.cli._common import (
    Column,
    JsonOption,
    api,
    print_json,
    print_record,
    print_rows,
    usage_error,
)

__all__ = ["app"]

app = typer.Typer(no_args_is_help=True, help="Databases dbplane serves.")

DbArg = Annotated[str, typer.Argument(help="The database's id or resource_id.",
                                      show_default=False)]


def _drills(db: Mapping[str, Any]) -> str:
    state = "after every periodic backup" if db.get("restore_drills_enabled") else "off"
    last = db.get("last_verified_backup")
    if last:
        state += f"; last: {last['id']} {last['status']} at {last['verified_at']}"
    return state


def _backups(db: Mapping[str, Any]) -> str:
    hours = ", ".join(f"{h:02d}:00" for h in db.get("periodic_backups_scheduled_at") or [])
    if not db.get("periodic_backups_enabled"):
        return "off"
    return f"on, {hours} UTC" if hours else "on"


def _instances(db: Mapping[str, Any]) -> list[str]:
    out = []
    for inst in db.get("instances") or []:
        where = inst["hostname"] if inst.get("port") is None else \
            f"{inst['hostname']}:{inst['port']}"
        out.append(f"{where} ({inst.get('status')})")
    return out


COLUMNS: list[Column] = [
    Column("RESOURCE ID", lambda d: d.get("resource_id"), no_wrap=True),
    Column("TYPE", lambda d: d.get("type_name")),
    Column("VERSION", lambda d: d.get("readable_version")),
    Column("STATUS", lambda d: d.get("status")),
    Column("MODE", lambda d: d.get("mode")),
    Column("BACKUPS", _backups),
    Column("ID", lambda d: d.get("id"), no_wrap=True),
]


def _show(db: Mapping[str, Any], as_json: bool) -> None:
    if as_json:
        print_json(db)
        return
    pairs: list[tuple[str, Any]] = [
        ("resource_id", db.get("resource_id")),
        ("id", db.get("id")),
        ("app_name", db.get("app_name")),
        ("type", db.get("type_name")),
        ("version", db.get("readable_version")),
        ("status", db.get("status")),
    ]
    if db.get("status_detail"):
        pairs.append(("status_detail", db["status_detail"]))
    pairs += [
        ("mode", db.get("mode")),
        ("plan", db.get("plan")),
        ("url", db.get("url")),
        *([("data_directory", db["managed"]["data_directory"]),
           ("pid", db["managed"]["pid"]),
           ("service_deployment_status", db.get("service_deployment_status"))]
          if db.get("managed") else []),
        ("instances", _instances(db)),
        ("features", [f"{f['name']} ({f['status']})" for f in db.get("features") or []]),
        ("backups", _backups(db)),
        ("restore_drills", _drills(db)),
        ("encryption_at_rest", db.get("encryption_at_rest")),
        ("created_at", db.get("created_at")),
    ]
    print_record(pairs)


@app.command("list")
def list_databases(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Every database, with its live status and version."""
    with api(ctx) as client:
        dbs = client.databases.list()
    print_rows(dbs, COLUMNS, as_json)


@app.command("add")
def add_database(
    ctx: typer.Context,
    resource_id: Annotated[str, typer.Argument(help="A name for it: lower-case letters, "
                                               "digits, - and _.", show_default=False)],
    url: Annotated[str | None, typer.Option(
        "--url", help="Connection URL of an external database, or sqlite:////abs/path.db; "
        "without it dbplane creates an embedded SQLite database.")] = None,
    type_name: Annotated[str | None, typer.Option(
        "--type", help="sqlite, postgresql, mysql or redis (read from the URL when "
        "omitted).")] = None,
    app_name: Annotated[str | None, typer.Option("--app-name", help="A label for it.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Register a database by URL (the connection is checked first), or create an
    embedded SQLite one."""
    with api(ctx) as client:
        db = client.databases.create(resource_id, url=url, type_name=type_name,
                                     app_name=app_name)
    _show(db, as_json)


@app.command("create")
def create_database(
    ctx: typer.Context,
    resource_id: Annotated[str, typer.Argument(help="A name for it: lower-case letters, "
                                               "digits, - and _.", show_default=False)],
    type_name: Annotated[str, typer.Option(
        "--type", help="postgresql, mysql or redis with --managed; sqlite otherwise.")
    ] = "sqlite",
    managed: Annotated[bool, typer.Option(
        "--managed", help="Provision a server dbplane runs itself (waits until it "
        "runs).")] = False,
    app_name: Annotated[str | None, typer.Option("--app-name", help="A label for it.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Create a database: an embedded SQLite one, or with ``--managed`` a PostgreSQL,
    MariaDB or Redis server of its own (its own data directory, port and password)."""
    with api(ctx) as client:
        if managed:
            db = client.databases.create(resource_id, type_name=type_name,
                                         app_name=app_name, mode="managed")
        else:
            db = client.databases.create(resource_id, type_name=type_name,
                                         app_name=app_name)
    _show(db, as_json)


@app.command("show")
def show_database(ctx: typer.Context, db: DbArg, as_json: JsonOption = False) -> None:
    """One database, by id or resource_id."""
    with api(ctx) as client:
        found = client.databases.get(db)
    _show(found, as_json)


@app.command("update")
def update_database(
    ctx: typer.Context,
    db: DbArg,
    backups: Annotated[bool | None, typer.Option(
        "--backups/--no-backups", help="Turn periodic backups on or off.",
        show_default=False)] = None,
    backup_hours: Annotated[list[int] | None, typer.Option(
        "--backup-hour", help="An hour (0-23, UTC) to back up at; repeat it for several. "
        "Replaces the schedule.", show_default=False)] = None,
    url: Annotated[str | None, typer.Option(
        "--url", help="A new connection URL (checked before it is saved).")] = None,
    app_name: Annotated[str | None, typer.Option("--app-name", help="A new label.")] = None,
    drills: Annotated[bool | None, typer.Option(
        "--restore-drills/--no-restore-drills", help="Run a restore drill after every "
        "periodic backup.", show_default=False)] = None,
    as_json: JsonOption = False,
) -> None:
    """Change a database's settings; the others stay as they are."""
    if (backups is None and not backup_hours and url is None and app_name is None
            and drills is None):
        usage_error(ctx, "nothing to change: give --backups/--no-backups, "
                               "--backup-hour, --url, --app-name or "
                               "--restore-drills/--no-restore-drills")
    with api(ctx) as client:
        updated = client.databases.update(
            db, app_name=app_name, url=url, periodic_backups_enabled=backups,
            periodic_backups_scheduled_at=list(backup_hours) if backup_hours else None,
            restore_drills_enabled=drills)
    _show(updated, as_json)


@app.command("remove")
def remove_database(
    ctx: typer.Context, db: DbArg, as_json: JsonOption = False,
    purge: Annotated[bool, typer.Option(
        "--purge", help="A managed database: also delete its server's files.")] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask.")] = False,
) -> None:
    """Unregister a database. An external or embedded one's data is never dropped; a
    managed server is stopped, and its files deleted only with ``--purge``."""
    if purge and not yes:
        typer.confirm(f"stop {db!r} and delete its server's files for good?", abort=True)
    with api(ctx) as client:
        client.databases.delete(db, purge=purge)
    if as_json:
        print_json({"removed": db, **({"purged": True} if purge else {})})
    elif purge:
        typer.echo(f"removed database {db!r} and its server's files")
    else:
        typer.echo(f"removed database {db!r} (its data is left in place)")
