"""``dbplane serve``: run the API with uvicorn."""

from __future__ import annotations

import sys

import typer
import uvicorn

from dbplane.api.app import create_app
from dbplane.logs import configure_logging
from dbplane.settings import Settings


def _print_token(token: str) -> None:
    # stdout, once, on first start: it is the only time the token can be seen
    sys.stdout.write(
        "\nGenerated an admin API token (stored hashed; it is shown this once):\n\n"
        f"    DBPLANE_TOKEN={token}\n\n"
        "Set DBPLANE_ADMIN_TOKEN to choose your own instead.\n\n")
    sys.stdout.flush()


def serve(
    host: str = typer.Option(None, "--host", help="Address to listen on (env DBPLANE_HOST, "
                             "default 127.0.0.1)"),
    port: int = typer.Option(None, "--port", help="Port to listen on (env DBPLANE_PORT, "
                             "default 8080)"),
) -> None:
    """Start the dbplane API, with the embedded default database."""
    overrides = {k: v for k, v in {"host": host, "port": port}.items() if v is not None}
    settings = Settings(**overrides)  # type: ignore[arg-type]
    configure_logging(settings.log_level, settings.log_json)
    app = create_app(settings, on_admin_token=_print_token)
    sys.stdout.write(f"dbplane listening on http://{settings.host}:{settings.port} "
                     f"(data in {settings.data_dir.resolve()})\n")
    sys.stdout.flush()
    uvicorn.run(app, host=settings.host, port=settings.port, log_config=None,
                access_log=False, server_header=False)
