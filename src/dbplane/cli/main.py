"""The ``dbplane`` command: ``serve``, and subcommands that talk to a running server
(``DBPLANE_URL``, ``DBPLANE_TOKEN``) through the Python client."""

from __future__ import annotations

import copy
import sys
from typing import Annotated

import typer

from dbplane.cli import (
    actions,
    auth,
    backups,
    databases,
    deployments,
    operations,
    pitr,
    roles,
    routines,
    rows,
    schema,
    tables,
    tokens,
    upgrade,
    users,
)
from dbplane.cli._common import Target
from dbplane.cli.serve import serve

app = typer.Typer(no_args_is_help=True, add_completion=False,
                  help="One CLI to run your databases.")
app.command()(serve)
app.add_typer(databases.app, name="databases")
app.add_typer(tables.app, name="tables")
app.add_typer(rows.app, name="rows")
app.add_typer(users.app, name="users")
app.add_typer(roles.app, name="roles")
app.add_typer(tokens.app, name="tokens")
app.command("login")(auth.login)
app.command("logout")(auth.logout)
app.command("whoami")(auth.whoami)
app.command("health")(auth.health)
for _module in (schema, routines, operations, backups, actions, deployments, pitr,
                upgrade):
    _module.register(app)


def _version(value: bool) -> None:
    if value:
        from dbplane import __version__

        typer.echo(f"dbplane {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    ctx: typer.Context,
    url: Annotated[str | None, typer.Option(
        "--url", envvar="DBPLANE_URL", show_envvar=True,
        help="The dbplane server to talk to (default http://127.0.0.1:8080).")] = None,
    token: Annotated[str | None, typer.Option(
        "--token", envvar="DBPLANE_TOKEN", show_envvar=True,
        help="An admin API token or a session token from 'dbplane login'.")] = None,
    _show_version: Annotated[bool, typer.Option(
        "--version", is_eager=True, callback=_version,
        help="Print the version and exit.")] = False,
) -> None:
    ctx.obj = Target(url=url, token=token)


_VALUED_ROOT_OPTIONS = ("--url", "--token")


def _command_named(argv: list[str]) -> str | None:
    """The command (or group) a command line names after the root options."""
    args = iter(argv)
    for arg in args:
        if arg in _VALUED_ROOT_OPTIONS:
            next(args, None)
        elif not arg.startswith("-"):
            return arg
    return None


def _only(name: str | None) -> typer.Typer:
    """``app`` with only the command or group ``name``: Typer builds the Click command of
    every command it has before it runs one, which costs more than the rest of a short
    command's start-up. The whole app when ``name`` is not one of its commands (help,
    errors)."""
    if name is None:
        return app
    slim = copy.copy(app)
    slim.registered_commands = [
        c for c in app.registered_commands
        if (c.name or getattr(c.callback, "__name__", "").lower().replace("_", "-")) == name]
    slim.registered_groups = [g for g in app.registered_groups if g.name == name]
    if not slim.registered_commands and not slim.registered_groups:
        return app
    return slim


def main() -> None:
    _only(_command_named(sys.argv[1:]))(prog_name="dbplane")
