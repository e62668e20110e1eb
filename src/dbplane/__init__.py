"""dbplane: one HTTP API, one CLI and one Python client to run your databases."""

from __future__ import annotations

import typing

if typing.TYPE_CHECKING:
    from dbplane.client import ApiClient, AsyncApiClient

__version__ = "0.1.0"

__all__ = ["ApiClient", "AsyncApiClient", "__version__"]


def __getattr__(name: str) -> typing.Any:
    # the client (and httpx) load on first use: `dbplane --help` and the server need
    # neither
    if name in ("ApiClient", "AsyncApiClient"):
        from dbplane import client

        value = getattr(client, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'dbplane' has no attribute {name!r}")
