"""httpx's exceptions and InfluxDB's answers as dbplane errors."""

from __future__ import annotations

import httpx

from dbplane.engines.base import exception_chain, network_error
from dbplane.engines.urls import DatabaseUrl, redact_text
from dbplane.errors import (
    ConnectionCheckFailed,
    DatabaseAuthFailed,
    DatabaseMissing,
    DatabaseUnreachable,
)

__all__ = ["connect_error", "not_influxdb"]


def not_influxdb(url: DatabaseUrl, status: int) -> ConnectionCheckFailed:
    return ConnectionCheckFailed(
        f"the server at {url.host}:{url.port} is not InfluxDB 1.x: /ping answered HTTP "
        f"{status} without an X-Influxdb-Version header", field="url", host=url.host,
        port=url.port)


def connect_error(exc: BaseException, url: DatabaseUrl) -> ConnectionCheckFailed | None:
    """The error for a failure to reach or log in to an InfluxDB server, if it is one."""
    from dbplane.engines.influxdb.engine import InfluxQueryError

    user = url.url.username or ""
    for cur in exception_chain(exc):
        if isinstance(cur, InfluxQueryError):
            message = str(cur)
            if cur.status in (401, 403) or "authorization failed" in message \
                    or "unable to parse authentication" in message:
                if not user:
                    return DatabaseAuthFailed(
                        "the InfluxDB server requires a user and password and the url "
                        f"gives none (influxdb://user:password@host/db): {message}",
                        field="url")
                return DatabaseAuthFailed(
                    f"InfluxDB refused the user {user!r} or its password: {message}",
                    field="url", user=user)
            if message.startswith("database not found"):
                return DatabaseMissing(
                    f"the InfluxDB server has no database {url.database!r}",
                    field="url", database_name=url.database)
    known = network_error(exc, url)
    if known is None and any(isinstance(c, (httpx.TransportError,))
                             for c in exception_chain(exc)):
        known = DatabaseUnreachable(
            f"nothing answers HTTP at {url.host}:{url.port} (is the port right and the "
            f"server running?): {redact_text(str(exc)) or type(exc).__name__}",
            field="url", host=url.host, port=url.port)
    return known
