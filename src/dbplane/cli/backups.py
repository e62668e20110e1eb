"""CLI commands: Backups (issue 7): manual, periodic, archive download/upload, restore."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add this module's commands to the ``dbplane`` command."""
