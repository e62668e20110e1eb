"""``dbplane action DB NAME [--param k=v ...]``: the Scalingo database actions.

Each ``--param k=v`` sets one key of the params object; a value is read as JSON when it
parses (``pid=2000`` is a number, ``force=true`` a boolean), as a string otherwise. One
``--param`` without ``=`` is the whole params value instead: ``set-sqlmode`` takes the
SQL mode string that way (``--param NO_ZERO_DATE,STRICT_TRANS_TABLES``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Annotated, Any

import orjson
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
    usage_error,
)

__all__ = ["parse_params", "register"]


def _value(raw: str) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return raw


def parse_params(ctx: typer.Context, items: list[str]) -> dict[str, Any] | str | None:
    """The params of ``--param`` options: an object of ``k=v``, or one bare value."""
    if not items:
        return None
    bare = [item for item in items if "=" not in item]
    if bare:
        if len(items) > 1:
            usage_error(ctx, f"--param {bare[0]!r} has no '=': a bare value must be the only "
                        "--param (it is the whole params, e.g. the SQL mode string)")
        value = _value(bare[0])
        if not isinstance(value, str | dict) and value is not None:
            return bare[0]
        return value
    params: dict[str, Any] = {}
    for item in items:
        key, _, raw = item.partition("=")
        if not key:
            usage_error(ctx, f"--param {item!r} has no name before '='")
        params[key] = _value(raw)
    return params


def _getter(key: str) -> Callable[[Mapping[str, Any]], Any]:
    return lambda row: row.get(key)


def _print_result(result: Any) -> None:
    if result is None:
        typer.echo("ok")
    elif isinstance(result, list) and all(isinstance(r, Mapping) for r in result):
        keys: list[str] = []
        for row in result:
            keys += [k for k in row if k not in keys]
        print_table(result, [Column(k.upper(), _getter(k)) for k in keys])
    elif isinstance(result, Mapping):
        print_record(list(result.items()))
    else:
        typer.echo(str(result))


_DESTRUCTIVE = {
    "delete-database": "The logical database and all its data are dropped.",
    "reset-database": "Every table of the logical database and its data are dropped.",
}


def action(
    ctx: typer.Context,
    db: Annotated[str, typer.Argument(help="The database's id or resource_id.",
                                      show_default=False)],
    name: Annotated[str, typer.Argument(help="The action, e.g. list-databases "
                                        "(list-actions names them).", show_default=False)],
    param: Annotated[list[str] | None, typer.Option(
        "--param", "-p", help="k=v, repeated (values read as JSON when they parse); or "
        "one bare value as the whole params (set-sqlmode's mode string).",
        show_default=False)] = None,
    as_json: JsonOption = False,
    yes: YesOption = False,
) -> None:
    """Run an action on a database's server and print its result (delete-database and
    reset-database ask first)."""
    params = parse_params(ctx, list(param or []))
    if name in _DESTRUCTIVE:
        confirm(f"{name} on {db!r} with {params}? {_DESTRUCTIVE[name]}", yes)
    with api(ctx) as client:
        result = client.databases.get(db).action(name, params)
    if as_json:
        print_json(result)
    else:
        _print_result(result)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the ``dbplane`` command."""
    app.command("action")(action)
