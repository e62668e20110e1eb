"""What every command that talks to a server shares: the client built from ``--url`` and
``--token`` (or ``DBPLANE_URL`` and ``DBPLANE_TOKEN``), errors printed as
``error: <detail> (<code>)`` with exit status 1, and output as Rich tables or ``--json``.

Values are rendered as plain text, never as Rich markup: a name may contain brackets.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any, NamedTuple, NoReturn

import orjson
import typer
from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from dbplane.errors import DbplaneError

if TYPE_CHECKING:
    from dbplane.client import ApiClient

__all__ = ["Column", "JsonOption", "Target", "api", "fail", "print_json", "print_record",
           "print_table", "render", "stamp", "usage_error"]

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
YesOption = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]


def confirm(question: str, yes: bool) -> None:
    """Ask before a destructive command (exit status 1 when refused, or when there is no
    one to answer: scripts pass ``--yes``)."""
    if yes:
        return
    if not typer.confirm(question, default=False):
        typer.echo("nothing done", err=True)
        raise typer.Exit(1)



class Column(NamedTuple):
    """A table column: its title, how to read its value from a row, and whether it must
    stay on one line (ids, which people copy): other columns wrap first."""

    title: str
    get: Callable[[Mapping[str, Any]], Any]
    no_wrap: bool = False


@dataclass(frozen=True)
class Target:
    """The server the commands talk to, from the root options."""

    url: str | None = None
    token: str | None = None


def fail(err: DbplaneError) -> NoReturn:
    """Print the error as ``error: <detail> (<code>)`` on stderr and exit with 1."""
    code = err.fields.get("code", err.code)
    typer.echo(f"error: {err.detail} ({code})", err=True)
    items = err.fields.get("errors")
    if isinstance(items, list) and len(items) > 1:
        for item in items:
            if isinstance(item, dict):
                typer.echo(f"  {item.get('field')}: {item.get('message')}", err=True)
    raise typer.Exit(1)


def usage_error(ctx: typer.Context, message: str) -> NoReturn:
    """A mistake on the command line: the usage, the message, exit status 2."""
    typer.echo(ctx.get_usage(), err=True)
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(2)


@contextmanager
def api(ctx: typer.Context) -> Iterator[ApiClient]:
    """A client of the server named by the root options; a dbplane error raised inside
    ends the command through :func:`fail`."""
    from dbplane.client import ApiClient

    target = ctx.find_root().obj
    if not isinstance(target, Target):
        target = Target()
    try:
        with ApiClient(token=target.token, base_url=target.url) as client:
            yield client
    except DbplaneError as err:
        fail(err)


def print_json(data: Any) -> None:
    typer.echo(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode())


def render(value: Any) -> str:
    """A JSON value as a table cell."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(render(v) for v in value) or "-"
    return str(value)


def stamp(value: Any) -> str:
    """A time for people: epoch milliseconds or an RFC 3339 string as the local date and
    time, to the second (``--json`` keeps the API's values)."""
    if isinstance(value, int) and not isinstance(value, bool):
        moment = datetime.fromtimestamp(value / 1000, UTC)
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return value
    else:
        return render(value)
    return moment.astimezone().strftime("%Y-%m-%d %H:%M:%S %Z").strip()


def size(value: Any) -> str:
    """Bytes for people, in SI units: ``7.0 MB``."""
    if not isinstance(value, int) or isinstance(value, bool):
        return render(value)
    amount = float(value)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if amount < 1000 or unit == "TB":
            return f"{value} B" if unit == "B" else f"{amount:.1f} {unit}"
        amount /= 1000
    return f"{value} B"


def _console() -> Console:
    console = Console(highlight=False)
    if not console.is_terminal and "COLUMNS" not in os.environ:
        # piped: a terminal's width means nothing here, and a cut value is lost
        console.width = 200
    return console


def print_table(rows: Iterable[Mapping[str, Any]], columns: Sequence[Column]) -> None:
    table = Table(box=box.SIMPLE_HEAD)
    for column in columns:
        table.add_column(column.title, no_wrap=column.no_wrap)
    for row in rows:
        table.add_row(*(Text(render(column.get(row))) for column in columns))
    _console().print(table)


def print_rows(rows: Sequence[Mapping[str, Any]], columns: Sequence[Column],
               as_json: bool) -> None:
    """A list as JSON (``--json``) or as a table."""
    if as_json:
        print_json(rows)
    else:
        print_table(rows, columns)


def print_record(pairs: Sequence[tuple[str, Any]]) -> None:
    """One object as a two-column table of names and values."""
    table = Table(box=None, show_header=False, pad_edge=False)
    table.add_column(style="bold")
    table.add_column()
    for name, value in pairs:
        table.add_row(Text(name), Text(render(value)))
    _console().print(table)
