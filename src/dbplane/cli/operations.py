"""``dbplane operations``: long work (backups, restores, checks) — list, show, wait, cancel.

:func:`wait_with_progress` is the Rich progress display every ``--wait`` uses (``backups
create --wait`` too): a bar following ``progress`` and the current step, on stderr, so
``--json`` output on stdout stays clean.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Annotated, Any

import orjson
import typer
from rich.console import Console

from dbplane.cli._common import (
    Column,
    JsonOption,
    api,
    fail,
    print_json,
    print_record,
    print_rows,
    print_table,
    stamp,
)
from dbplane.errors import DbplaneError

if TYPE_CHECKING:
    from dbplane.client.operations import Operation

__all__ = ["app", "register", "show_operation", "wait_with_progress"]

app = typer.Typer(no_args_is_help=True, help="Long work: backups, restores, checks.")

COLUMNS: list[Column] = [
    Column("ID", lambda o: o.get("id"), no_wrap=True),
    Column("TYPE", lambda o: o.get("type"), no_wrap=True),
    Column("DATABASE", lambda o: o.get("database_id")),
    Column("STATUS", lambda o: o.get("status")),
    Column("PROGRESS", lambda o: f"{round(100 * float(o.get('progress') or 0))}%"),
    Column("CREATED", lambda o: stamp(o.get("created_at"))),
    Column("FINISHED", lambda o: stamp(o.get("finished_at"))),
]

STEP_COLUMNS: list[Column] = [
    Column("STEP", lambda s: s.get("name")),
    Column("STATUS", lambda s: s.get("status")),
    Column("STARTED", lambda s: stamp(s.get("started_at"))),
    Column("DURATION (ms)", lambda s: s.get("duration_ms")),
]

OperationId = Annotated[str, typer.Argument(help="The operation's id.", show_default=False)]


def _describe(op: Mapping[str, Any]) -> str:
    step = next((s["name"] for s in reversed(op.get("steps") or [])
                 if s.get("status") == "running"), None)
    return str(op.get("message") or step or op.get("status"))


def wait_with_progress(operation: Operation, *, timeout: float | None = None,
                       poll: float = 0.5, quiet: bool = False) -> Operation:
    """Follow ``operation`` until it ends with a progress bar on stderr (none when
    ``quiet`` or stderr is not a terminal), and answer it. Raises the error it ended with
    (OperationCanceled when canceled): inside :func:`dbplane.cli._common.api` that prints
    ``error: … (code)`` and exits 1."""
    console = Console(stderr=True)
    if quiet or not console.is_terminal:
        return operation.wait(timeout=timeout, poll=poll)
    from rich.progress import (
        BarColumn,
        Progress,
        TaskProgressColumn,
        TextColumn,
        TimeElapsedColumn,
    )

    columns = (TextColumn("{task.fields[kind]}"), BarColumn(), TaskProgressColumn(),
               TimeElapsedColumn(), TextColumn("{task.description}"))
    with Progress(*columns, console=console, transient=False) as progress:
        task = progress.add_task(_describe(operation), total=1.0,
                                 kind=str(operation.get("type")))

        def update(op: Operation) -> None:
            progress.update(task, completed=float(op.get("progress") or 0),
                            description=_describe(op))

        return operation.wait(timeout=timeout, poll=poll, on_progress=update)


def show_operation(op: Mapping[str, Any]) -> None:
    """An operation as a record, then its steps and its log."""
    error = op.get("error") or {}
    print_record([
        ("id", op.get("id")), ("type", op.get("type")),
        ("database", op.get("database_id")), ("status", op.get("status")),
        ("progress", f"{round(100 * float(op.get('progress') or 0))}%"),
        ("message", op.get("message")), ("created", stamp(op.get("created_at"))),
        ("started", stamp(op.get("started_at"))), ("finished", stamp(op.get("finished_at"))),
        ("created by", op.get("created_by")),
        ("params", orjson.dumps(op.get("params") or {}).decode()),
        ("result", None if op.get("result") is None
         else orjson.dumps(op.get("result")).decode()),
        ("error", f"{error.get('message')} ({error.get('code')})" if error else None),
    ])
    if op.get("steps"):
        print_table(op["steps"], STEP_COLUMNS)
    for line in op.get("log") or []:
        typer.echo(f"  | {line}")


@app.command("list")
def list_operations(
    ctx: typer.Context,
    database: Annotated[str | None, typer.Option(help="A database id or resource_id.")] = None,
    status: Annotated[str | None, typer.Option(
        help="pending, running, done, error or canceled.")] = None,
    type_name: Annotated[str | None, typer.Option(
        "--type", help="An operation type, e.g. backup or restore.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="At most this many.")] = 100,
    as_json: JsonOption = False,
) -> None:
    """Operations, newest first."""
    with api(ctx) as client:
        ops = client.operations.list(database=database, status=status, type=type_name,
                                     limit=limit)
    print_rows(ops, COLUMNS, as_json)


@app.command("show")
def show(ctx: typer.Context, operation_id: OperationId, as_json: JsonOption = False) -> None:
    """One operation: status, progress, steps, log, result or error."""
    with api(ctx) as client:
        op = client.operations.get(operation_id)
    if as_json:
        print_json(op)
    else:
        show_operation(op)


@app.command("wait")
def wait(
    ctx: typer.Context,
    operation_id: OperationId,
    timeout: Annotated[float | None, typer.Option(
        help="Give up after this many seconds (exit status 1).")] = None,
    as_json: JsonOption = False,
) -> None:
    """Follow an operation until it ends, with a progress bar. Exit status 1 when it ends
    in error or canceled."""
    with api(ctx) as client:
        op = client.operations.get(operation_id)
        try:
            op = wait_with_progress(op, timeout=timeout)
        except TimeoutError as exc:
            fail(DbplaneError(str(exc)))
        except DbplaneError:
            if as_json:
                print_json(op)
            raise
    if as_json:
        print_json(op)
    else:
        typer.echo(f"{op['type']} {op['id']}: {op['status']}")


@app.command("cancel")
def cancel(ctx: typer.Context, operation_id: OperationId, as_json: JsonOption = False) -> None:
    """Cancel an operation: a pending one at once, a running one at its next checkpoint."""
    with api(ctx) as client:
        op = client.operations.cancel(operation_id)
    if as_json:
        print_json(op)
    elif op["status"] == "canceled":
        typer.echo(f"{op['type']} {op['id']}: canceled")
    else:
        typer.echo(f"{op['type']} {op['id']}: cancel requested "
                   f"(`dbplane operations wait {op['id']}` to see it end)")


@app.command("check")
def check(
    ctx: typer.Context,
    database: Annotated[str, typer.Argument(help="A database id or resource_id.",
                                            show_default=False)],
    samples: Annotated[int, typer.Option(min=1, max=1000,
                                         help="Round trips to time.")] = 3,
    interval_ms: Annotated[int, typer.Option(min=0, max=60_000,
                                             help="Pause between round trips.")] = 0,
    no_wait: Annotated[bool, typer.Option("--no-wait",
                                          help="Print the operation's id and return.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Start a database.check (health, version, latency) and follow it."""
    with api(ctx) as client:
        op = client.operations.check(database, samples=samples, interval_ms=interval_ms)
        if not no_wait:
            op = wait_with_progress(op)
    if as_json:
        print_json(op)
    elif no_wait:
        typer.echo(op["id"])
    else:
        show_operation(op)


def register(root: typer.Typer) -> None:
    """Add this module's commands to the ``dbplane`` command."""
    root.add_typer(app, name="operations")
