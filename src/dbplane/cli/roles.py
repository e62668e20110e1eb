"""``dbplane roles``: what users may do, as grants written ``DATABASE:TABLE:ACTIONS``
(``shop:orders:read,create``; ``*`` for any database, table, or every action)."""

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
)

__all__ = ["app", "format_grant", "parse_grant"]

app = typer.Typer(no_args_is_help=True, help="Roles, and the grants they give users.")

ACTIONS = ("read", "create", "update", "delete")

RoleArg = Annotated[str, typer.Argument(help="The role's name.", show_default=False)]
GrantOption = Annotated[list[str] | None, typer.Option(
    "--grant", help="DATABASE:TABLE:ACTIONS, e.g. 'shop:*:read,create' ('*' for any "
    "database or table, or every action); repeat it for several.", show_default=False)]
DescriptionOption = Annotated[str | None, typer.Option("--description",
                                                       help="What the role is for.")]


def parse_grant(text: str) -> dict[str, Any]:
    """``shop:orders:read,create`` as ``{"database", "table", "actions"}``. The table sits
    between the first and the last colon, so a table name may hold one."""
    database, _, rest = text.partition(":")
    table, _, actions_text = rest.rpartition(":")
    if not database or not table or not actions_text:
        raise typer.BadParameter(f"{text!r} is not DATABASE:TABLE:ACTIONS, e.g. "
                                 "'shop:*:read,create'", param_hint="'--grant'")
    actions = [a.strip().lower() for a in actions_text.split(",") if a.strip()]
    if "*" in actions:
        actions = list(ACTIONS)
    unknown = [a for a in actions if a not in ACTIONS]
    if unknown or not actions:
        raise typer.BadParameter(f"{text!r}: actions are {', '.join(ACTIONS)} or *",
                                 param_hint="'--grant'")
    return {"database": database, "table": table, "actions": list(dict.fromkeys(actions))}


def format_grant(grant: Mapping[str, Any]) -> str:
    return f"{grant.get('database')}:{grant.get('table')}:{','.join(grant.get('actions', []))}"


COLUMNS: list[Column] = [
    Column("NAME", lambda r: r.get("name"), no_wrap=True),
    Column("DESCRIPTION", lambda r: r.get("description") or None),
    Column("GRANTS", lambda r: [format_grant(g) for g in r.get("grants") or []]),
]


def _show(role: Mapping[str, Any], as_json: bool) -> None:
    if as_json:
        print_json(role)
        return
    print_record([("name", role.get("name")), ("description", role.get("description")),
                  ("grants", [format_grant(g) for g in role.get("grants") or []])])


@app.command("add")
def add_role(ctx: typer.Context, name: RoleArg, grants: GrantOption = None,
             description: DescriptionOption = None, as_json: JsonOption = False) -> None:
    """Create a role with its grants."""
    parsed = [parse_grant(g) for g in grants or []]
    with api(ctx) as client:
        role = client.roles.create(name, parsed, description)
    _show(role, as_json)


@app.command("list")
def list_roles(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Every role, admin included."""
    with api(ctx) as client:
        roles = client.roles.list()
    print_rows(roles, COLUMNS, as_json)


@app.command("show")
def show_role(ctx: typer.Context, name: RoleArg, as_json: JsonOption = False) -> None:
    """One role and its grants."""
    with api(ctx) as client:
        role = client.roles.get(name)
    _show(role, as_json)


@app.command("update")
def update_role(ctx: typer.Context, name: RoleArg, grants: GrantOption = None,
                description: DescriptionOption = None, as_json: JsonOption = False) -> None:
    """Replace a role's description, or all of its grants when --grant is given."""
    parsed = [parse_grant(g) for g in grants] if grants else None
    with api(ctx) as client:
        role = client.roles.update(name, description=description, grants=parsed)
    _show(role, as_json)


@app.command("remove")
def remove_role(ctx: typer.Context, name: RoleArg, as_json: JsonOption = False,
                yes: YesOption = False) -> None:
    """Remove a role no user has."""
    confirm(f"Remove the role {name!r} and its grants?", yes)
    with api(ctx) as client:
        client.roles.delete(name)
    if as_json:
        print_json({"removed": name})
    else:
        typer.echo(f"removed role {name!r}")
