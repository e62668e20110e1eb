"""``dbplane pitr window DB`` and ``dbplane pitr restore DB --time ... [--wait]``:
point-in-time restore of a managed PostgreSQL with wal-archiving on."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from dbplane.cli._common import (
    Column,
    JsonOption,
    YesOption,
    api,
    confirm,
    print_json,
    print_record,
    print_table,
    size,
)
from dbplane.cli.operations import show_operation, wait_with_progress

__all__ = ["app", "register"]

app = typer.Typer(no_args_is_help=True, help="Point-in-time restore (managed PostgreSQL "
                  "with wal-archiving on).")

DbArg = Annotated[str, typer.Argument(help="The database's id or resource_id.",
                                      show_default=False)]

RANGE_COLUMNS: list[Column] = [
    Column("FROM", lambda r: r.get("earliest")),
    Column("TO", lambda r: r.get("latest")),
    Column("BASE BACKUP", lambda r: r.get("base_backup"), no_wrap=True),
]


def _show_window(window: dict[str, Any]) -> None:
    archive = window.get("archive") or {}
    print_record([("earliest", window.get("earliest")), ("latest", window.get("latest")),
                  ("timeline", window.get("timeline")),
                  ("base backups", len(window.get("base_backups") or [])),
                  ("base backups size", size(sum(int(b.get("size") or 0)
                                                 for b in window.get("base_backups")
                                                 or []))),
                  ("archived segments", archive.get("segments")),
                  ("missing segments", ", ".join(archive.get("missing") or []) or None),
                  ("why empty", window.get("reason"))])
    if len(window.get("ranges") or []) > 1:
        print_table(window["ranges"], RANGE_COLUMNS)


@app.command("window")
def window(ctx: typer.Context, db: DbArg, as_json: JsonOption = False) -> None:
    """The restorable window: from the end of a base backup to the last transaction in
    the contiguous archived WAL after it."""
    with api(ctx) as client:
        found = client.databases.get(db).pitr_window()
    print_json(found) if as_json else _show_window(found)


@app.command("restore")
def restore(
    ctx: typer.Context, db: DbArg,
    time: Annotated[str, typer.Option("--time", "-t", help="The moment to go back to, "
                                      "RFC 3339 with an offset (2026-12-03T10:30:00Z).",
                                      show_default=False)],
    wait: Annotated[bool, typer.Option("--wait", help="Follow it to the end with a "
                                       "progress bar.")] = False,
    as_json: JsonOption = False, yes: YesOption = False,
) -> None:
    """Restore the database in place to --time (a new timeline): every change made after
    that moment is lost. The previous data serves again if a step fails."""
    confirm(f"Restore {db!r} to {time}? Every change made to it after that moment is "
            "lost.", yes)
    with api(ctx) as client:
        op = client.databases.get(db).pitr_restore(time)
        if wait:
            op = wait_with_progress(op, quiet=as_json, poll=0.2)
    print_json(dict(op)) if as_json else show_operation(op)


def register(root: typer.Typer) -> None:
    """Add this module's commands to the ``dbplane`` command."""
    root.add_typer(app, name="pitr")
