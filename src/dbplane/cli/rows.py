"""``dbplane rows``: list, read, create, change and delete the rows of a table.

Filters are written ``score>500``, ``title~engine``, ``deleted_on=null``, or in the API's
own form ``filters[score][$gt]=500`` for anything else (``$in``, ``$or`` groups…); both
become the client's filter dict. Values are sent as text and converted by the server by
the column's type. A key is written as the API's path has it: the value, or for a
composite key the values joined by ``,`` (a ``,`` or ``\\`` inside one escaped by ``\\``).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from rich.markup import escape

from dbplane.cli._common import (
    Column,
    JsonOption,
    YesOption,
    api,
    confirm,
    print_json,
    print_record,
    print_table,
)
from dbplane.cli.tables import DbArg, TableArg, database

__all__ = ["app", "parse_data", "parse_filters"]

app = typer.Typer(no_args_is_help=True, help="Rows of a table: list, get, create, update, "
                  "delete.")

KeyArg = Annotated[str, typer.Argument(
    help="The primary key; for a composite key the values joined by ',' (a ',' or '\\' "
    "inside a value escaped with '\\').", show_default=False)]
DataOption = Annotated[str, typer.Option(
    "--data", help="The record as JSON, @FILE to read it from a file, or - to read it "
    "from stdin.", show_default=False)]

_OPERATORS = {">": "$gt", ">=": "$gte", "<": "$lt", "<=": "$lte", "=": "$eq", "!=": "$ne",
              "~": "$contains", "!~": "$notContains", "^": "$startsWith", "$": "$endsWith"}
_SHORT = re.compile(r"(?P<column>[^<>=!~^$]+?)\s*(?P<op>>=|<=|!=|!~|>|<|=|~|\^|\$)"
                    r"(?P<value>.*)", re.S)
_RAW = re.compile(r"filters((?:\[[^\]]*\])+)=(.*)", re.S)
_SEGMENT = re.compile(r"\[([^\]]*)\]")


def _bad_filter(text: str, why: str) -> typer.BadParameter:
    return typer.BadParameter(f"{text!r}: {why}", param_hint="'--filter'")


def _short_filter(text: str) -> list[str]:
    match = _SHORT.fullmatch(text.strip())
    if match is None or not match["column"].strip():
        raise _bad_filter(text, "write COLUMN OP VALUE with OP one of "
                          + " ".join(_OPERATORS) + ", or filters[COLUMN][$op]=VALUE")
    column, op, value = match["column"].strip(), match["op"], match["value"].strip()
    if op in ("=", "!=") and value == "null":
        return [column, "$null" if op == "=" else "$notNull", "true"]
    return [column, _OPERATORS[op], value]


def _raw_filter(text: str, match: re.Match[str]) -> list[str]:
    segments = _SEGMENT.findall(match[1])
    if len(segments) < 2:
        raise _bad_filter(text, "the raw form is filters[COLUMN][$op]=VALUE")
    return [*segments, match[2]]


def _put(tree: dict[str, Any], text: str, path: list[str]) -> None:
    *names, leaf, value = path
    node = tree
    for name in names:
        child = node.setdefault(name, {})
        if not isinstance(child, dict):
            raise _bad_filter(text, f"{name!r} already has a value")
        node = child
    if leaf in node:
        raise _bad_filter(text, f"{leaf!r} is given twice for the same place; use "
                          "filters[$and][N]... to repeat an operator")
    node[leaf] = value


def _lists(node: Any) -> Any:
    """``{"0": a, "1": b}`` (indexed parameters) as ``[a, b]``, all the way down."""
    if not isinstance(node, dict):
        return node
    if node and all(k.isdigit() for k in node):
        return [_lists(node[k]) for k in sorted(node, key=int)]
    return {k: _lists(v) for k, v in node.items()}


def parse_filters(texts: Sequence[str]) -> dict[str, Any]:
    """``--filter`` values as one filter dict for ``Table.list`` (all of them hold)."""
    tree: dict[str, Any] = {}
    for text in texts:
        raw = _RAW.fullmatch(text)
        _put(tree, text, _raw_filter(text, raw) if raw else _short_filter(text))
    result: dict[str, Any] = _lists(tree)
    return result


def _read_data(value: str) -> str:
    if value == "-":
        return sys.stdin.read()
    if value.startswith("@"):
        try:
            return Path(value[1:]).read_text()
        except OSError as exc:
            raise typer.BadParameter(f"cannot read {value[1:]!r}: {exc.strerror}",
                                     param_hint="'--data'") from exc
    return value


def parse_data(value: str, *, many: bool) -> Any:
    """``--data`` as a JSON object (or, when ``many``, a list of objects)."""
    try:
        data = orjson.loads(_read_data(value))
    except orjson.JSONDecodeError as exc:
        raise typer.BadParameter(f"not JSON: {exc}", param_hint="'--data'") from exc
    if isinstance(data, dict):
        return data
    if many and isinstance(data, list) and all(isinstance(r, dict) for r in data):
        return data
    wanted = "a JSON object or a list of objects" if many else "a JSON object"
    raise typer.BadParameter(f"must be {wanted}, not {type(data).__name__}",
                             param_hint="'--data'")


def _cell(value: Any) -> str:
    """A value as JSON would write it, strings bare: null, true, 3.5, [..], {..}."""
    if isinstance(value, str):
        return value
    return orjson.dumps(value).decode()


def _getter(name: str) -> Callable[[Mapping[str, Any]], str]:
    return lambda row: _cell(row[name]) if name in row else ""


def _columns(rows: Sequence[Mapping[str, Any]]) -> list[Column]:
    names = dict.fromkeys(name for row in rows for name in row)
    # a title is Rich markup: a column named "a[1]" must print as it is
    return [Column(escape(name), _getter(name)) for name in names]


def _print_rows(rows: Sequence[Mapping[str, Any]]) -> None:
    if rows:
        print_table(rows, _columns(rows))
    else:
        typer.echo("no rows")


def _print_record(record: Mapping[str, Any]) -> None:
    print_record([(name, _cell(value)) for name, value in record.items()])


def _includes(values: Sequence[str]) -> dict[str, int | None]:
    out: dict[str, int | None] = {}
    for value in values:
        for item in value.split(","):
            name, _, limit = item.strip().partition(":")
            if not limit:
                out[name] = None
            elif limit.isdigit():
                out[name] = int(limit)
            else:
                raise typer.BadParameter(f"{item!r}: write RELATION or RELATION:LIMIT",
                                         param_hint="'--include'")
    return out


@app.command("list")
def list_rows(
    ctx: typer.Context,
    db: DbArg,
    table: TableArg,
    filters: Annotated[list[str] | None, typer.Option(
        "--filter", "-f", help="COLUMN OP VALUE with OP one of > >= < <= = != ~ (contains) "
        "!~ (does not contain) ^ (starts with) $ (ends with); COLUMN=null and "
        "COLUMN!=null; or the API's filters[COLUMN][$op]=VALUE. Repeat it: all must "
        "hold.", show_default=False)] = None,
    sort: Annotated[list[str] | None, typer.Option(
        "--sort", "-s", help="COLUMN or COLUMN:desc; repeat it for several, in order.",
        show_default=False)] = None,
    fields: Annotated[str | None, typer.Option(
        "--fields", help="The columns to show, comma separated.")] = None,
    limit: Annotated[int | None, typer.Option(
        "--limit", "-n", min=0, help="Rows per page (the server's default page size "
        "otherwise).")] = None,
    offset: Annotated[int | None, typer.Option("--offset", min=0,
                                               help="Rows to skip.")] = None,
    include: Annotated[list[str] | None, typer.Option(
        "--include", "-i", help="A relation to embed (see 'tables show'), or "
        "RELATION:LIMIT; repeat it for several.", show_default=False)] = None,
    count: Annotated[bool, typer.Option(
        "--count", help="Also count every matching row (with --json the answer is "
        "{\"data\": [...], \"total\": N}).")] = False,
    as_json: JsonOption = False,
) -> None:
    """One page of rows of a table or view."""
    where = parse_filters(filters or [])
    relations = _includes(include or [])
    with api(ctx) as client:
        rows = database(client, db).tables(table).list(
            filters=where, sort=(sort[0] if len(sort) == 1 else sort) if sort else None,
            fields=fields, limit=limit, offset=offset, include=relations, count=count)
    if as_json:
        print_json({"data": rows, "total": rows.total} if count else rows)
        return
    _print_rows(rows)
    if count:
        typer.echo(f"{len(rows)} of {rows.total} rows")


@app.command("get")
def get_row(
    ctx: typer.Context,
    db: DbArg,
    table: TableArg,
    key: KeyArg,
    fields: Annotated[str | None, typer.Option(
        "--fields", help="The columns to show, comma separated.")] = None,
    include: Annotated[list[str] | None, typer.Option(
        "--include", "-i", help="A relation to embed; repeat it for several.",
        show_default=False)] = None,
    as_json: JsonOption = False,
) -> None:
    """One record by its primary key."""
    relations = _includes(include or [])
    with api(ctx) as client:
        record = database(client, db).tables(table).get(key, fields=fields,
                                                        include=relations)
    if as_json:
        print_json(record)
    else:
        _print_record(record)


@app.command("create")
def create_rows(ctx: typer.Context, db: DbArg, table: TableArg, data: DataOption,
                as_json: JsonOption = False) -> None:
    """Create a record from a JSON object, or several (in one transaction) from a list;
    prints what was stored, generated ids and defaults included."""
    body = parse_data(data, many=True)
    with api(ctx) as client:
        created = database(client, db).tables(table).create(body)
    if as_json:
        print_json(created)
    elif isinstance(created, dict):
        _print_record(created)
    else:
        _print_rows(created)


@app.command("update")
def update_row(ctx: typer.Context, db: DbArg, table: TableArg, key: KeyArg,
               data: DataOption, as_json: JsonOption = False) -> None:
    """Change the given columns of one record; prints the record."""
    body = parse_data(data, many=False)
    with api(ctx) as client:
        record = database(client, db).tables(table).update(key, body)
    if as_json:
        print_json(record)
    else:
        _print_record(record)


@app.command("delete")
def delete_row(ctx: typer.Context, db: DbArg, table: TableArg, key: KeyArg,
               as_json: JsonOption = False, yes: YesOption = False) -> None:
    """Delete one record."""
    confirm(f"Delete the record {key!r} of {table!r} in {db!r}?", yes)
    with api(ctx) as client:
        database(client, db).tables(table).delete(key)
    if as_json:
        print_json({"deleted": key, "table": table})
    else:
        typer.echo(f"deleted {key!r} from {table!r}")


FilterOption = Annotated[list[str] | None, typer.Option(
    "--filter", "-f", help="The rows to touch: as for 'rows list --filter'. Repeat it: all "
    "must hold.", show_default=False)]
AllOption = Annotated[bool, typer.Option(
    "--all", help="Touch every row of the table (no --filter).")]
MaxAffectedOption = Annotated[int | None, typer.Option(
    "--max-affected", min=0, help="Refuse (and change nothing) if more rows would be "
    "touched.")]


@app.command("upsert")
def upsert_rows(ctx: typer.Context, db: DbArg, table: TableArg, data: DataOption,
                on_conflict: Annotated[str | None, typer.Option(
                    "--on-conflict", help="The unique key the rows are matched on, "
                    "COLUMN[,COLUMN] (default: the primary key).")] = None,
                ignore: Annotated[bool, typer.Option(
                    "--ignore", help="Leave an existing record as it is (default: update "
                    "the columns given).")] = False,
                as_json: JsonOption = False) -> None:
    """Create records, updating the existing record of a row whose key matches one;
    prints what was written."""
    body = parse_data(data, many=True)
    with api(ctx) as client:
        written = database(client, db).tables(table).upsert(
            body, on_conflict=on_conflict, ignore=ignore)
    if as_json:
        print_json(written)
    elif isinstance(written, dict):
        _print_record(written)
    else:
        _print_rows(written)


def _where(filters: list[str] | None, every: bool) -> dict[str, Any]:
    where = parse_filters(filters or [])
    if not where and not every:
        raise typer.BadParameter("give --filter (repeatable) or --all",
                                 param_hint="--filter")
    return where


@app.command("update-where")
def update_rows(ctx: typer.Context, db: DbArg, table: TableArg, data: DataOption,
                filters: FilterOption = None, every: AllOption = False,
                max_affected: MaxAffectedOption = None, as_json: JsonOption = False) -> None:
    """Change the given columns of every row the filters keep, in one transaction;
    prints the changed rows."""
    body = parse_data(data, many=False)
    where = _where(filters, every)
    with api(ctx) as client:
        rows = database(client, db).tables(table).update_where(
            body, filters=where or None, all=every, max_affected=max_affected)
    if as_json:
        print_json(rows)
    else:
        _print_rows(rows)


@app.command("delete-where")
def delete_rows(ctx: typer.Context, db: DbArg, table: TableArg,
                filters: FilterOption = None, every: AllOption = False,
                max_affected: MaxAffectedOption = None,
                yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask.")] = False,
                as_json: JsonOption = False) -> None:
    """Delete every row the filters keep, in one transaction (asks first)."""
    where = _where(filters, every)
    if not yes:
        what = "every row" if every else "the rows matching the filters"
        if not typer.confirm(f"Delete {what} of {table!r}?", default=False):
            typer.echo("nothing deleted", err=True)
            raise typer.Exit(1)
    with api(ctx) as client:
        count = database(client, db).tables(table).delete_where(
            filters=where or None, all=every, max_affected=max_affected)
    if as_json:
        print_json({"deleted": count, "table": table})
    else:
        typer.echo(f"deleted {count} row(s) from {table!r}")


def _pairs(values: Sequence[str], option: str) -> list[tuple[str, str]]:
    out = []
    for value in values:
        fn, sep, cols = value.partition("=")
        if not sep or not fn or not cols:
            raise typer.BadParameter(f"{value!r}: write FUNCTION=COLUMN[,COLUMN] (count=*)",
                                     param_hint=option)
        out.append((fn, cols))
    return out


@app.command("aggregate")
def aggregate_rows(
    ctx: typer.Context, db: DbArg, table: TableArg,
    aggregates: Annotated[list[str] | None, typer.Option(
        "--aggregate", "-a", help="FUNCTION=COLUMN[,COLUMN] with FUNCTION one of count "
        "(count=* counts rows), countDistinct, sum, avg, min, max; repeat it.",
        show_default=False)] = None,
    group_by: Annotated[list[str] | None, typer.Option(
        "--group-by", "-g", help="A column to group by; repeat it.",
        show_default=False)] = None,
    filters: FilterOption = None,
    sort: Annotated[list[str] | None, typer.Option(
        "--sort", "-s", help="A group column or an aggregate (count, sum.COLUMN), "
        ":desc for descending; repeat it.", show_default=False)] = None,
    limit: Annotated[int | None, typer.Option("--limit", "-n", min=0)] = None,
    as_json: JsonOption = False,
) -> None:
    """Aggregates of a table's rows, per group (Directus's aggregate and groupBy)."""
    chosen: dict[str, list[str]] = {}
    for fn, cols in _pairs(aggregates or [], "--aggregate"):
        chosen.setdefault(fn, []).extend(cols.split(","))
    functions = ("count", "countDistinct", "sum", "avg", "min", "max")
    unknown = sorted(set(chosen) - set(functions))
    if unknown:
        raise typer.BadParameter(f"{unknown[0]!r}: one of {', '.join(functions)}",
                                 param_hint="--aggregate")
    if not chosen and not group_by:
        raise typer.BadParameter("give --aggregate or --group-by", param_hint="--aggregate")
    where = parse_filters(filters or [])
    with api(ctx) as client:
        rows = database(client, db).tables(table).aggregate(
            count=chosen.get("count"), count_distinct=chosen.get("countDistinct"),
            sum=chosen.get("sum"), avg=chosen.get("avg"), min=chosen.get("min"),
            max=chosen.get("max"), group_by=group_by or None, filters=where or None,
            sort=sort or None, limit=limit)
    if as_json:
        print_json(rows)
        return
    flat = [{key: (",".join(f"{c}={v}" for c, v in value.items())
                   if isinstance(value, dict) else value) for key, value in row.items()}
            for row in rows]
    _print_rows(flat)


@app.command("export")
def export_rows(
    ctx: typer.Context, db: DbArg, table: TableArg,
    csv_format: Annotated[bool, typer.Option(
        "--csv", help="CSV (the one format; the option says so in scripts).")] = True,
    filters: FilterOption = None,
    sort: Annotated[list[str] | None, typer.Option(
        "--sort", "-s", help="COLUMN or COLUMN:desc; repeat it.", show_default=False)] = None,
    fields: Annotated[str | None, typer.Option(
        "--fields", help="The columns to export, comma separated.")] = None,
    limit: Annotated[int | None, typer.Option("--limit", "-n", min=0)] = None,
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", help="Write to this file (default: standard output).",
        dir_okay=False, writable=True)] = None,
) -> None:
    """Every row the filters keep as CSV (an admin gets them all), streamed as the server
    sends it."""
    where = parse_filters(filters or [])
    with api(ctx) as client:
        chunks = database(client, db).tables(table).export_csv(
            filters=where or None, sort=sort or None, fields=fields, limit=limit)
        if output is None:
            out = sys.stdout.buffer
            for chunk in chunks:
                out.write(chunk)
            out.flush()
        else:
            with output.open("wb") as fh:
                for chunk in chunks:
                    fh.write(chunk)
