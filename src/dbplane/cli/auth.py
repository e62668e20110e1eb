"""``dbplane login``, ``logout``, ``whoami`` and ``health``: sessions, and whether the
server answers."""

from __future__ import annotations

from typing import Annotated

import typer

from dbplane.cli._common import JsonOption, api, print_json, print_record
from dbplane.cli.users import show_user

__all__ = ["health", "login", "logout", "whoami"]


def login(
    ctx: typer.Context,
    email: Annotated[str, typer.Option("--email", help="Your email.", show_default=False)],
    password: Annotated[str | None, typer.Option("--password", help="Asked for (not "
                                                 "echoed) when omitted.",
                                                 show_default=False)] = None,
    as_json: JsonOption = False,
) -> None:
    """Log in and print the session token, for DBPLANE_TOKEN:
    export DBPLANE_TOKEN=$(dbplane login --email you@example.com)"""
    # the prompt goes to stderr: stdout is the token, often captured by $(...)
    if password is None:
        password = str(typer.prompt("Password", hide_input=True, err=True))
    with api(ctx) as client:
        session = client.auth.login(email, password)
    if as_json:
        print_json(session)
        return
    typer.echo(session["token"])
    user = session.get("user") or {}
    typer.echo(f"logged in as {user.get('email')} (role {user.get('role')}); the session "
               f"expires at {session.get('expires_at')}", err=True)


def logout(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """End the session whose token is DBPLANE_TOKEN (or --token)."""
    with api(ctx) as client:
        client.auth.logout()
    if as_json:
        print_json({"logged_out": True})
    else:
        typer.echo("logged out")


def whoami(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """The user of the session token."""
    with api(ctx) as client:
        user = client.user()
    show_user(user, as_json)


def health(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Whether the server and its metadata store answer (needs no token)."""
    with api(ctx) as client:
        answer = client.health()
    if as_json:
        print_json(answer)
    else:
        print_record([("url", client.base_url), *answer.items()])
