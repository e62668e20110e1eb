"""``dbplane upgrade DB [--to ID] [--wait]``, ``dbplane upgrade rollback DB``,
``dbplane upgrade versions DB`` and ``dbplane upgrade remove-previous DB``: upgrades of a
managed server to a newer build.

``dbplane upgrade DB`` is ``dbplane upgrade start DB``: a first word that is not one of
the group's commands is taken as the database (a database named like a command is
reached with ``upgrade start NAME``).
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from dbplane.cli._common import (
    Column,
    JsonOption,
    YesOption,
    api,
    confirm,
    print_json,
    print_record,
    print_table,
    stamp,
)
from dbplane.cli.operations import show_operation, wait_with_progress

__all__ = ["app", "register"]


class _StartByDefault(TyperGroup):
    """``upgrade DB ...`` runs ``upgrade start DB ...``."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if args and not args[0].startswith("-") and args[0] not in self.commands:
            args = ["start", *args]
        return super().parse_args(ctx, args)


app = typer.Typer(cls=_StartByDefault, no_args_is_help=True,
                  help="Upgrade a managed server to a newer build, roll it back, list the "
                  "builds it can move to. `dbplane upgrade DB` starts the upgrade.")

DbArg = Annotated[str, typer.Argument(help="The database's id or resource_id.",
                                      show_default=False)]
WaitOption = Annotated[bool, typer.Option("--wait", help="Follow it to the end with a "
                                          "progress bar.")]

VERSION_COLUMNS: list[Column] = [
    Column("", lambda v: v.get("_is")),
    Column("VERSION", lambda v: v.get("readable_version")),
    Column("FROM", lambda v: v.get("source")),
    Column("FEATURES", lambda v: ", ".join(v.get("features") or [])),
    Column("ID", lambda v: v.get("id"), no_wrap=True),
]


def _rows(found: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    if found.get("current"):
        rows.append({**found["current"], "_is": "running"})
    for version in found.get("versions") or []:
        mark = "next" if version.get("id") == found.get("next_version_id") else "newer"
        rows.append({**version, "_is": mark})
    return rows


@app.command("versions")
def versions(ctx: typer.Context, db: DbArg, as_json: JsonOption = False) -> None:
    """The build the server runs, the newer ones it can move to, and the one the last
    upgrade kept."""
    with api(ctx) as client:
        found = client.databases.get(db).versions()
    if as_json:
        print_json(found)
        return
    print_table(_rows(found), VERSION_COLUMNS)
    previous = found.get("previous")
    if previous:
        print_record([("previous version", previous.get("readable_version")),
                      ("kept since", stamp(previous.get("upgraded_at"))),
                      ("data directory", previous.get("data_dir"))])
    if found.get("reason"):
        print_record([("why none newer", found["reason"])])


@app.command("start")
def start(
    ctx: typer.Context, db: DbArg,
    to: Annotated[str | None, typer.Option("--to", help="A version id from `dbplane "
                                           "upgrade versions DB` (default: the next).",
                                           show_default=False)] = None,
    wait: WaitOption = False, as_json: JsonOption = False, yes: YesOption = False,
) -> None:
    """Upgrade the database's server: a backup, a new cluster of the target build, the
    data moved and checked, then the switch. Clients are refused while the data moves;
    the previous version is kept for a rollback."""
    confirm(f"Upgrade {db!r}{f' to {to}' if to else ' to the next version'}? A backup is "
            "taken first; clients are refused while the data moves to the new server.",
            yes)
    with api(ctx) as client:
        op = client.databases.get(db).upgrade(to)
        if wait:
            op = wait_with_progress(op, quiet=as_json, poll=0.2)
    print_json(dict(op)) if as_json else show_operation(op)


@app.command("rollback")
def rollback(ctx: typer.Context, db: DbArg, wait: WaitOption = False,
             as_json: JsonOption = False, yes: YesOption = False) -> None:
    """Switch back to the version the last upgrade kept. What was written since the
    upgrade is lost."""
    confirm(f"Roll {db!r} back to the version before its last upgrade? Everything written "
            "to it since that upgrade is lost.", yes)
    with api(ctx) as client:
        op = client.databases.get(db).upgrade_rollback()
        if wait:
            op = wait_with_progress(op, quiet=as_json, poll=0.2)
    print_json(dict(op)) if as_json else show_operation(op)


@app.command("remove-previous")
def remove_previous(ctx: typer.Context, db: DbArg, as_json: JsonOption = False,
                    yes: YesOption = False) -> None:
    """Delete the version the last upgrade kept (its data directory): no rollback after."""
    confirm(f"Delete the version {db!r} ran before its last upgrade? No rollback is "
            "possible after this.", yes)
    with api(ctx) as client:
        found = client.databases.get(db).remove_previous_version()
    if as_json:
        print_json(found)
        return
    removed = found.get("removed") or {}
    print_record([("removed version", removed.get("readable_version")),
                  ("data directory", removed.get("data_dir"))])


def register(root: typer.Typer) -> None:
    """Add this module's commands to the ``dbplane`` command."""
    root.add_typer(app, name="upgrade")
