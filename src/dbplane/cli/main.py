"""The ``dbplane`` command: ``serve``, and subcommands that talk to a running server
(``DBPLANE_URL``, ``DBPLANE_TOKEN``) through the Python client."""

from __future__ import annotations

from typing import Annotated

import typer

from dbplane.cli import (
    actions,
    auth,
    backups,
    databases,
    deployments,
    operations,
    roles,
    routines,
    rows,
    schema,
    tables,
    tokens,
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
for _module in (schema, routines, operations, backups, actions, deployments):
    _module.register(app)


@app.callback()
def _root(
    ctx: typer.Context,
    url: Annotated[str | None, typer.Option(
        "--url", envvar="DBPLANE_URL", show_envvar=True,
        help="The dbplane server to talk to (default http://127.0.0.1:8080).")] = None,
    token: Annotated[str | None, typer.Option(
        "--token", envvar="DBPLANE_TOKEN", show_envvar=True,
        help="An admin API token or a session token from 'dbplane login'.")] = None,
) -> None:
    ctx.obj = Target(url=url, token=token)


def main() -> None:
    app()
