"""``dbplane redeploy|restart|stop|start DB [--wait]``, ``dbplane deployments DB`` and
``dbplane config show|set DB``: deployments (Qovery's shape) and a managed server's
settings. ``--wait`` follows the deployment, printing each step as it ends."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Annotated, Any

import typer

from dbplane.cli._common import (
    Column,
    JsonOption,
    api,
    print_json,
    print_record,
    print_rows,
    print_table,
    usage_error,
)
from dbplane.client import ApiClient

__all__ = ["register"]

DbArg = Annotated[str, typer.Argument(help="The database's id or resource_id.",
                                      show_default=False)]
WaitOption = Annotated[bool, typer.Option("--wait", help="Follow the deployment's steps "
                                          "until it ends.")]

COLUMNS: list[Column] = [
    Column("ID", lambda d: d.get("id"), no_wrap=True),
    Column("ACTION", lambda d: (d.get("status_details") or {}).get("action")),
    Column("STATE", lambda d: d.get("state")),
    Column("DURATION (s)", lambda d: (d.get("steps") or {}).get("total_duration_sec")),
    Column("CREATED", lambda d: d.get("created_at")),
]
STEP_COLUMNS: list[Column] = [
    Column("STEP", lambda s: s.get("step_name")),
    Column("STATUS", lambda s: s.get("status")),
    Column("DURATION (s)", lambda s: s.get("duration_sec")),
]
_ENDED = ("DEPLOYED", "RESTARTED", "STOPPED", "DEPLOYMENT_ERROR", "RESTART_ERROR",
          "STOP_ERROR", "CANCELED")


def _show(deployment: Mapping[str, Any]) -> None:
    error = deployment.get("error") or {}
    print_record([("id", deployment.get("id")), ("state", deployment.get("state")),
                  ("action", (deployment.get("status_details") or {}).get("action")),
                  ("service_deployment_status",
                   deployment.get("service_deployment_status")),
                  ("total (s)", (deployment.get("steps") or {}).get("total_duration_sec")),
                  ("error", error.get("message"))])
    steps = (deployment.get("steps") or {}).get("details") or []
    if steps:
        print_table(steps, STEP_COLUMNS)


def _follow(client: ApiClient, db: str, deployment: dict[str, Any],
            as_json: bool) -> dict[str, Any]:
    seen = 0
    current = deployment
    while True:
        steps = (current.get("steps") or {}).get("details") or []
        if not as_json:
            for step in steps[seen:]:
                typer.echo(f"  {step['step_name']:<24} {step['status']:<8} "
                           f"{step['duration_sec']:.3f} s", err=True)
        seen = len(steps)
        if current.get("state") in _ENDED:
            return current
        time.sleep(0.1)
        current = client.databases.get(db).deployments.get(str(deployment["id"]))


def _run(ctx: typer.Context, db: str, action: str, wait: bool, as_json: bool) -> None:
    with api(ctx) as client:
        database = client.databases.get(db)
        deployment = getattr(database, action)()
        if wait:
            if not as_json:
                typer.echo(f"{action} {db}: deployment {deployment['id']}", err=True)
            deployment = _follow(client, db, deployment, as_json)
    if as_json:
        print_json(deployment)
    else:
        _show(deployment)
    if str(deployment.get("state", "")).endswith("_ERROR"):
        raise typer.Exit(1)


def redeploy(ctx: typer.Context, db: DbArg, wait: WaitOption = False,
             as_json: JsonOption = False) -> None:
    """Redeploy: a managed server restarts with its pending settings through timed
    steps (rolled back when one fails); another database refreshes dbplane's side."""
    _run(ctx, db, "redeploy", wait, as_json)


def restart(ctx: typer.Context, db: DbArg, wait: WaitOption = False,
            as_json: JsonOption = False) -> None:
    """Restart a database's server on its running configuration."""
    _run(ctx, db, "restart", wait, as_json)


def stop(ctx: typer.Context, db: DbArg, wait: WaitOption = False,
         as_json: JsonOption = False,
         yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask.")] = False,
         ) -> None:
    """Stop a managed server (it stays stopped until started)."""
    if not yes and not as_json:
        typer.confirm(f"stop the server of {db!r}? its clients lose it", abort=True)
    _run(ctx, db, "stop", wait, as_json)


def start(ctx: typer.Context, db: DbArg, wait: WaitOption = False,
          as_json: JsonOption = False) -> None:
    """Start a stopped managed server."""
    _run(ctx, db, "start", wait, as_json)


def deployments(ctx: typer.Context, db: DbArg, as_json: JsonOption = False) -> None:
    """A database's deployments, newest first."""
    with api(ctx) as client:
        found = client.databases.get(db).deployments.list()
    print_rows(found, COLUMNS, as_json)


config_app = typer.Typer(no_args_is_help=True, help="A managed server's settings.")


def _show_config(config: Mapping[str, Any], as_json: bool) -> None:
    if as_json:
        print_json(config)
        return
    pending = config.get("pending_restart_reason") or {}
    rows = [{"name": k, "value": v, "pending": ""}
            for k, v in sorted((config.get("config") or {}).items())]
    for row in rows:
        change = pending.get(row["name"])
        if change:
            row["pending"] = f"{change.get('old_value')} -> {change.get('new_value')} " \
                "(after a redeploy)"
    print_table(rows, [Column("SETTING", lambda r: r["name"]),
                       Column("LIVE VALUE", lambda r: r["value"]),
                       Column("PENDING", lambda r: r["pending"])])
    typer.echo(f"service_deployment_status: {config.get('service_deployment_status')}")


@config_app.command("show")
def config_show(ctx: typer.Context, db: DbArg, as_json: JsonOption = False) -> None:
    """The settings set through dbplane, live values read from the server, pending
    ones marked."""
    with api(ctx) as client:
        config = client.databases.get(db).config.show()
    _show_config(config, as_json)


@config_app.command("set")
def config_set(
    ctx: typer.Context, db: DbArg,
    settings: Annotated[list[str], typer.Argument(help="name=value, one or more.",
                                                  show_default=False)],
    as_json: JsonOption = False,
) -> None:
    """Set server settings (checked against the server's catalogue); those that need a
    restart stay pending until ``dbplane redeploy``."""
    values: dict[str, str] = {}
    for item in settings:
        name, sep, value = item.partition("=")
        if not sep or not name:
            usage_error(ctx, f"{item!r} is not name=value")
        values[name.strip()] = value.strip()
    with api(ctx) as client:
        config = client.databases.get(db).config.set(**values)
    _show_config(config, as_json)


def register(root: typer.Typer) -> None:
    """Add this module's commands to the ``dbplane`` command."""
    for fn in (redeploy, restart, stop, start, deployments):
        root.command(fn.__name__)(fn)
    root.add_typer(config_app, name="config")
