"""``dbplane tokens``: admin API tokens for programs. A token is shown once, when it is
created."""

from __future__ import annotations

from typing import Annotated

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
)

__all__ = ["app"]

app = typer.Typer(no_args_is_help=True, help="Admin API tokens.")

COLUMNS: list[Column] = [
    Column("ID", lambda t: t.get("id"), no_wrap=True),
    Column("NAME", lambda t: t.get("name")),
    Column("PREFIX", lambda t: t.get("prefix")),
    Column("SOURCE", lambda t: t.get("source")),
    Column("CREATED", lambda t: stamp(t.get("created_on"))),
]


@app.command("create")
def create_token(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="What the token is for, e.g. ci.",
                                        show_default=False)],
    as_json: JsonOption = False,
) -> None:
    """Create an admin API token and print it (this once)."""
    with api(ctx) as client:
        created = client.tokens.create(name)
    if as_json:
        print_json(created)
        return
    print_record([("id", created.get("id")), ("name", created.get("name")),
                  ("token", created.get("token"))])
    typer.echo("Store the token now: it cannot be shown again.", err=True)


@app.command("list")
def list_tokens(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Every API token (their prefixes, never the tokens)."""
    with api(ctx) as client:
        tokens = client.tokens.list()
    print_rows(tokens, COLUMNS, as_json)


@app.command("revoke")
def revoke_token(
    ctx: typer.Context,
    token_id: Annotated[str, typer.Argument(help="The token's id (see 'dbplane tokens "
                                            "list').", show_default=False)],
    as_json: JsonOption = False,
    yes: YesOption = False,
) -> None:
    """Revoke an API token: requests with it are refused from now on."""
    confirm(f"Revoke the token {token_id!r}? Requests with it are refused from now on.", yes)
    with api(ctx) as client:
        client.tokens.revoke(token_id)
    if as_json:
        print_json({"revoked": token_id})
    else:
        typer.echo(f"revoked token {token_id!r}")
