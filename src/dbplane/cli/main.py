"""The ``dbplane`` command: ``serve``, and subcommands that talk to a running server
(``DBPLANE_URL``, ``DBPLANE_TOKEN``) through the Python client."""

from __future__ import annotations

import typer

from dbplane.cli.serve import serve

app = typer.Typer(no_args_is_help=True, add_completion=False,
                  help="One CLI to run your databases.")
app.command()(serve)


def main() -> None:
    app()
