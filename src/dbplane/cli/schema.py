"""CLI commands: Schema as code (issue 5): snapshot, diff and apply, Directus-compatible."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add this module's commands to the ``dbplane`` command."""
