"""CLI commands: Operations (issue 7): long work as 202 + Location, status, cancel."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add this module's commands to the ``dbplane`` command."""
