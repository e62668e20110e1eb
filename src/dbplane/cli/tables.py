"""``dbplane tables``: the tables and views of a database, their columns and keys, and a
way to make the server read the schema again. Their rows are ``dbplane rows``.

``DB`` is a database's id or resource_id; ``default`` is the default database.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Annotated, Any

import typer

from dbplane.cli._common import (
    Column,
    JsonOption,
    api,
    fail,
    print_json,
    print_record,
    print_rows,
    print_table,
)
from dbplane.errors import TableNotFound

if TYPE_CHECKING:
    from dbplane.client import ApiClient, Database
    from dbplane.client.databases import DefaultDatabase

__all__ = ["DbArg", "TableArg", "app", "database"]

app = typer.Typer(no_args_is_help=True, help="Tables and views of a database.")

DbArg = Annotated[str, typer.Argument(
    help="The database's id or resource_id ('default' for the default database).",
    show_default=False)]
TableArg = Annotated[str, typer.Argument(help="The table or view.", show_default=False)]


def database(client: ApiClient, db: str) -> Database | DefaultDatabase:
    """The database named on the command line; ``default`` is addressed without a
    look-up (``/v1/tables/...``)."""
    from dbplane.client.databases import DefaultDatabase

    if db == DefaultDatabase.ref:
        return client.database
    return client.databases.get(db)


def _foreign_key(fk: Mapping[str, Any]) -> str:
    return (f"{', '.join(fk.get('columns') or [])} -> {fk.get('referred_table')}"
            f"({', '.join(fk.get('referred_columns') or [])})")


def _relations(table: Mapping[str, Any]) -> list[str]:
    return [f"{name} ({rel.get('kind')} {rel.get('table')})"
            for name, rel in (table.get("relations") or {}).items()]


COLUMNS: list[Column] = [
    Column("NAME", lambda t: t.get("name"), no_wrap=True),
    Column("KIND", lambda t: t.get("kind")),
    Column("COLUMNS", lambda t: len(t.get("columns") or [])),
    Column("PRIMARY KEY", lambda t: t.get("primary_key")),
    Column("RELATIONS", lambda t: list(t.get("relations") or {})),
]

COLUMN_COLUMNS: list[Column] = [
    Column("COLUMN", lambda c: c.get("name"), no_wrap=True),
    Column("TYPE", lambda c: c.get("type")),
    Column("KIND", lambda c: c.get("kind")),
    Column("NULLABLE", lambda c: c.get("nullable")),
    Column("DEFAULT", lambda c: c.get("default")),
    Column("PRIMARY KEY", lambda c: c.get("primary_key")),
    Column("AUTOINCREMENT", lambda c: c.get("autoincrement")),
]


@app.command("list")
def list_tables(ctx: typer.Context, db: DbArg, as_json: JsonOption = False) -> None:
    """Every table and view you may read: kind, number of columns, primary key and the
    relations 'rows list --include' accepts."""
    with api(ctx) as client:
        tables = database(client, db).list_tables()
    print_rows(tables, COLUMNS, as_json)


@app.command("show")
def show_table(ctx: typer.Context, db: DbArg, table: TableArg,
               as_json: JsonOption = False) -> None:
    """One table or view: its columns, keys and relations."""
    with api(ctx) as client:
        found = next((t for t in database(client, db).list_tables()
                      if t.get("name") == table), None)
    if found is None:
        fail(TableNotFound(table, db))
    if as_json:
        print_json(found)
        return
    print_record([
        ("name", found.get("name")),
        ("kind", found.get("kind")),
        ("primary_key", found.get("primary_key")),
        ("foreign_keys", [_foreign_key(fk) for fk in found.get("foreign_keys") or []]),
        ("relations", _relations(found)),
    ])
    print_table(found.get("columns") or [], COLUMN_COLUMNS)


@app.command("reload")
def reload_tables(ctx: typer.Context, db: DbArg, as_json: JsonOption = False) -> None:
    """Make the server read the database's schema again now (for a change made behind
    dbplane's back that it has not noticed yet)."""
    with api(ctx) as client:
        count = database(client, db).reload_tables()
    if as_json:
        print_json({"tables": count})
    else:
        typer.echo(f"reloaded the schema of {db!r}: {count} tables and views")


@app.command("openapi")
def table_openapi(ctx: typer.Context, db: DbArg) -> None:
    """The OpenAPI document of the database's tables, as JSON."""
    with api(ctx) as client:
        document = database(client, db).openapi()
    print_json(document)
