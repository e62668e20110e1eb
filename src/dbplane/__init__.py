"""dbplane: one HTTP API, one CLI and one Python client to run your databases."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
