"""``dbplane users``: the people who log in (admin only). Passwords are prompted for
without echo when not given, and never printed."""

from __future__ import annotations

from collections.abc import Mapping
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
    print_rows,
    stamp,
    usage_error,
)

__all__ = ["app"]

app = typer.Typer(no_args_is_help=True, help="Users who log in, and their roles.")

UserArg = Annotated[str, typer.Argument(help="The user's id.", show_default=False)]

COLUMNS: list[Column] = [
    Column("ID", lambda u: u.get("id"), no_wrap=True),
    Column("NAME", lambda u: u.get("name")),
    Column("EMAIL", lambda u: u.get("email")),
    Column("ROLE", lambda u: u.get("role")),
    Column("CREATED", lambda u: stamp(u.get("created_on"))),
]


def show_user(user: Mapping[str, Any], as_json: bool) -> None:
    if as_json:
        print_json(user)
        return
    print_record([("id", user.get("id")), ("name", user.get("name")),
                  ("email", user.get("email")), ("role", user.get("role")),
                  ("created", stamp(user.get("created_on"))),
                  ("updated", stamp(user.get("updated_on")))])


@app.command("add")
def add_user(
    ctx: typer.Context,
    name: Annotated[str, typer.Option("--name", help="Their name.", show_default=False)],
    email: Annotated[str, typer.Option("--email", help="Their email; they log in with it.",
                                       show_default=False)],
    role: Annotated[str, typer.Option("--role", help="admin, or a role from 'dbplane roles "
                                      "add'.", show_default=False)],
    password: Annotated[str | None, typer.Option(
        "--password", help="At least 8 characters; asked for (not echoed, twice) when "
        "omitted.", show_default=False)] = None,
    as_json: JsonOption = False,
) -> None:
    """Create a user."""
    if password is None:
        password = str(typer.prompt("Password", hide_input=True, confirmation_prompt=True,
                                    err=True))
    with api(ctx) as client:
        user = client.users.create(name, email, password, role)
    show_user(user, as_json)


@app.command("list")
def list_users(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Every user."""
    with api(ctx) as client:
        users = client.users.list()
    print_rows(users, COLUMNS, as_json)


@app.command("show")
def show(ctx: typer.Context, user_id: UserArg, as_json: JsonOption = False) -> None:
    """One user."""
    with api(ctx) as client:
        user = client.users.get(user_id)
    show_user(user, as_json)


@app.command("update")
def update_user(
    ctx: typer.Context,
    user_id: UserArg,
    name: Annotated[str | None, typer.Option("--name", help="A new name.")] = None,
    email: Annotated[str | None, typer.Option("--email", help="A new email.")] = None,
    role: Annotated[str | None, typer.Option("--role", help="A new role.")] = None,
    password: Annotated[str | None, typer.Option("--password",
                                                 help="A new password.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Change a user's name, email, role or password; the others stay as they are."""
    if name is None and email is None and role is None and password is None:
        usage_error(ctx, "nothing to change: give --name, --email, --role or "
                               "--password")
    with api(ctx) as client:
        user = client.users.update(user_id, name=name, email=email, role=role,
                                   password=password)
    show_user(user, as_json)


@app.command("remove")
def remove_user(ctx: typer.Context, user_id: UserArg, as_json: JsonOption = False,
                yes: YesOption = False) -> None:
    """Delete a user and end its sessions."""
    confirm(f"Delete the user {user_id!r} and end its sessions?", yes)
    with api(ctx) as client:
        client.users.delete(user_id)
    if as_json:
        print_json({"removed": user_id})
    else:
        typer.echo(f"removed user {user_id!r}")
