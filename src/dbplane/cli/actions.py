"""CLI commands: Actions (issue 7): POST /databases/{db}/action, the Scalingo actions."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add this module's commands to the ``dbplane`` command."""
