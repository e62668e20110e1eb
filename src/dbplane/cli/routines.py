"""CLI commands: Routines (issue 6): files, migrations, factories and seeders."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add this module's commands to the ``dbplane`` command."""
