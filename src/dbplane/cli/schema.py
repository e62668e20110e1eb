"""``dbplane schema``: a database's schema as code (Directus-compatible snapshots).

    dbplane schema snapshot --yaml > schema.yaml
    dbplane schema diff schema.yaml          # what would change
    dbplane schema apply schema.yaml         # diff, show the plan, ask, apply
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import orjson
import typer

from dbplane.cli._common import api, print_json, usage_error

if TYPE_CHECKING:
    from dbplane.client import ApiClient
    from dbplane.client.schema import Schema

__all__ = ["app", "plan_lines", "register"]

app = typer.Typer(no_args_is_help=True, help="The schema as code: snapshot, diff, apply "
                  "(Directus-compatible).")

DbOption = Annotated[str, typer.Option(
    "--db", help="The database's id or resource_id ('default' for the default database).")]
FileArg = Annotated[Path, typer.Argument(help="A snapshot file, JSON or YAML ('-' for "
                                         "stdin).", show_default=False)]
ForceOption = Annotated[bool, typer.Option(
    "--force", help="Diff a snapshot of another vendor or dbplane version.")]

_LOSSY = {("type",), ("schema", "data_type"), ("schema", "max_length"),
          ("schema", "numeric_precision"), ("schema", "numeric_scale")}


def _schema(client: ApiClient, db: str) -> Schema:
    if db == "default":
        return client.database.schema
    return client.databases.get(db).schema


def _read(ctx: typer.Context, file: Path) -> Any:
    try:
        text = typer.get_text_stream("stdin").read() if str(file) == "-" else \
            file.read_text()
    except OSError as exc:
        usage_error(ctx, f"cannot read {file}: {exc.strerror}")
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        pass
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        usage_error(ctx, f"{file} is neither JSON nor YAML: {str(exc).splitlines()[0]}")


def _value(v: Any) -> str:
    text = orjson.dumps(v).decode()
    return text if len(text) <= 60 else text[:57] + "..."


def plan_lines(diff: dict[str, Any]) -> list[tuple[bool, str]]:
    """The diff as ``(destructive, line)`` pairs: one per collection, field or relation
    created or dropped, one per value changed."""
    lines: list[tuple[bool, str]] = []
    sections = (("collections", "collection"), ("fields", "field"),
                ("relations", "relation"))
    for section, what in sections:
        for item in diff.get(section) or []:
            name = ".".join(str(item[k]) for k in ("collection", "field") if k in item)
            for entry in item.get("diff") or []:
                kind, where = entry.get("kind"), entry.get("path") or []
                if kind == "N" and not where:
                    extra = f" ({entry['rhs'].get('type')})" if what == "field" and \
                        isinstance(entry.get("rhs"), dict) else ""
                    lines.append((False, f"+ create {what} {name}{extra}"))
                elif kind == "D" and not where:
                    lines.append((what != "relation", f"- drop {what} {name}"))
                else:
                    dotted = ".".join(str(p) for p in where)
                    if kind == "A":
                        item_kind = (entry.get("item") or {}).get("kind")
                        change = "added" if item_kind == "N" else "removed"
                        lines.append((False, f"~ {what} {name}: {dotted}"
                                      f"[{entry.get('index')}] {change}"))
                        continue
                    lossy = tuple(where) in _LOSSY and section == "fields"
                    lines.append((lossy, f"~ {what} {name}: {dotted} "
                                  f"{_value(entry.get('lhs'))} -> {_value(entry.get('rhs'))}"))
    return lines


def _show_plan(diff: dict[str, Any]) -> int:
    lines = plan_lines(diff)
    destructive = 0
    for lossy, line in lines:
        if lossy:
            destructive += 1
            typer.echo(f"{line}   [destructive]")
        else:
            typer.echo(line)
    return destructive


@app.command("snapshot")
def snapshot(ctx: typer.Context, db: DbOption = "default",
             as_yaml: Annotated[bool, typer.Option("--yaml", help="YAML instead of JSON.")]
             = False,
             include: Annotated[list[str] | None, typer.Option(
                 "--include", help="Only these collections (repeat).")] = None,
             exclude: Annotated[list[str] | None, typer.Option(
                 "--exclude", help="Leave out these collections (repeat).")] = None) -> None:
    """Print the database's schema: collections, fields, relations, indexes, checks."""
    with api(ctx) as client:
        schema = _schema(client, db)
        if as_yaml:
            typer.echo(schema.snapshot(export="yaml", include=include, exclude=exclude),
                       nl=False)
        else:
            print_json(schema.snapshot(include=include, exclude=exclude))


@app.command("diff")
def diff(ctx: typer.Context, file: FileArg, db: DbOption = "default",
         force: ForceOption = False,
         sql: Annotated[bool, typer.Option("--sql", help="Print the SQL the apply would "
                                           "run.")] = False,
         as_json: Annotated[bool, typer.Option("--json", help="Print {hash, diff}.")]
         = False) -> None:
    """What applying the snapshot in FILE would change (destructive changes marked)."""
    document = _read(ctx, file)
    with api(ctx) as client:
        schema = _schema(client, db)
        if sql:
            text = schema.diff(document, force=force, format="sql")
            typer.echo(text or "-- no difference", nl=bool(not text))
            return
        answer = schema.diff(document, force=force)
        if as_json:
            print_json(answer)
            return
        if answer is None:
            typer.echo("no difference")
            return
        count = _show_plan(answer["diff"])
        if count:
            typer.echo(f"{count} destructive change(s)", err=True)


@app.command("apply")
def apply(ctx: typer.Context, file: FileArg, db: DbOption = "default",
          force: ForceOption = False,
          yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask.")] = False
          ) -> None:
    """Make the database's schema the one in FILE: diff, show the plan, ask, apply."""
    document = _read(ctx, file)
    with api(ctx) as client:
        schema = _schema(client, db)
        answer = schema.diff(document, force=force)
        if answer is None:
            typer.echo("no difference: nothing to apply")
            return
        count = _show_plan(answer["diff"])
        if not yes:
            question = "Apply these changes" + (
                f", {count} of them destructive" if count else "") + "?"
            if not typer.confirm(question, default=False):
                typer.echo("nothing applied", err=True)
                raise typer.Exit(1)
        schema.apply(answer)
        typer.echo("applied")


def register(root: typer.Typer) -> None:
    """Add this module's commands to the ``dbplane`` command."""
    root.add_typer(app, name="schema")
