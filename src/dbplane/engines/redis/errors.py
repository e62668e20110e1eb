"""redis-py's exceptions as dbplane errors."""

from __future__ import annotations

from redis import exceptions as rex

from dbplane.engines.base import exception_chain, network_error
from dbplane.engines.urls import DatabaseUrl, redact_text
from dbplane.errors import (
    ConnectionCheckFailed,
    DatabaseAuthFailed,
    DatabaseMissing,
    DatabaseUnreachable,
)

__all__ = ["connect_error"]


def connect_error(exc: BaseException, url: DatabaseUrl) -> ConnectionCheckFailed | None:
    """The error for a failure to reach or log in to a Redis server, if it is one."""
    user = url.url.username or "default"
    for cur in exception_chain(exc):
        message = str(cur)
        if isinstance(cur, (rex.AuthenticationError,
                            rex.AuthenticationWrongNumberOfArgsError)) or (
            isinstance(cur, rex.ResponseError)
            and ("WRONGPASS" in message or "NOAUTH" in message
                 or "without any password configured" in message)
        ):
            return DatabaseAuthFailed(
                f"Redis refused the user {user!r} or its password: "
                + redact_text(message), field="url", user=user)
        if isinstance(cur, rex.ResponseError) and "DB index" in message:
            return DatabaseMissing(
                f"the Redis server has no database number {url.database!r}",
                field="url", database_name=url.database)
    known = network_error(exc, url)
    if known is None and any(isinstance(c, (rex.ConnectionError, rex.TimeoutError))
                             for c in exception_chain(exc)):
        known = DatabaseUnreachable(
            f"nothing answers at {url.host}:{url.port} (is the port right "
            "and the server running?)", field="url", host=url.host,
            port=url.port)
    return known
