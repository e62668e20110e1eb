"""dbplane: one HTTP API, one CLI and one Python client to run your databases."""

from __future__ import annotations

from dbplane.client import ApiClient, AsyncApiClient

__version__ = "0.1.0"

__all__ = ["ApiClient", "AsyncApiClient", "__version__"]
