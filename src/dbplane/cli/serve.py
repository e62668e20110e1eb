"""``dbplane serve``: run the API with uvicorn.

The server (FastAPI, SQLAlchemy, the drivers) is imported here, when ``serve`` runs, and
nowhere else in the CLI: every other command starts as fast as a bare Typer program."""

from __future__ import annotations

import errno
import socket
import sys

import typer


def _print_token(token: str) -> None:
    # stdout, once, on first start: it is the only time the token can be seen
    sys.stdout.write(
        "\nGenerated an admin API token (stored hashed; it is shown this once):\n\n"
        f"    DBPLANE_TOKEN={token}\n\n"
        "Set DBPLANE_ADMIN_TOKEN to choose your own instead.\n\n")
    sys.stdout.flush()


def _port_taken(host: str, port: int) -> bool:
    """Whether something listens on ``host:port`` already (checked before start-up, so
    the answer names the port and how to pick another instead of a bind traceback)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            return exc.errno == errno.EADDRINUSE
    return False


def _free_port_after(host: str, port: int) -> int | None:
    for candidate in range(port + 1, min(port + 50, 65536)):
        if not _port_taken(host, candidate):
            return candidate
    return None


def serve(
    host: str = typer.Option(None, "--host", help="Address to listen on (env DBPLANE_HOST, "
                             "default 127.0.0.1)"),
    port: int = typer.Option(None, "--port", help="Port to listen on (env DBPLANE_PORT, "
                             "default 8080)"),
) -> None:
    """Start the dbplane API and console, with the embedded default database."""
    import uvicorn

    from dbplane.api.app import create_app
    from dbplane.api.server import Server
    from dbplane.logs import configure_logging
    from dbplane.settings import Settings

    overrides = {k: v for k, v in {"host": host, "port": port}.items() if v is not None}
    settings = Settings(**overrides)  # type: ignore[arg-type]
    if settings.port and _port_taken(settings.host, settings.port):
        other = _free_port_after(settings.host, settings.port) or settings.port + 1
        sys.stderr.write(
            f"dbplane: port {settings.port} on {settings.host} is taken: another program "
            "listens there.\nChoose another port, e.g.:\n"
            f"    DBPLANE_PORT={other} make serve\n"
            f"    dbplane serve --port {other}\n")
        raise typer.Exit(1)
    log_json = settings.log_json
    if log_json is None:
        log_json = not sys.stderr.isatty()
    configure_logging(settings.log_level, log_json)
    app = create_app(settings, on_admin_token=_print_token)
    sys.stdout.write(f"dbplane listening on http://{settings.host}:{settings.port} "
                     f"(console at /console, data in {settings.data_dir.resolve()})\n")
    sys.stdout.flush()
    Server(uvicorn.Config(app, host=settings.host, port=settings.port, log_config=None,
                          access_log=False, server_header=False)).run()
