"""``ApiClient`` and ``AsyncApiClient``: one object per dbplane server, with one attribute
per resource (``client.databases``, ``client.users``…). Both have the same methods; the
async one's are awaited.
"""

from __future__ import annotations

from types import TracebackType
from typing import Any, Self

import httpx

from dbplane.client._http import (
    DEFAULT_TIMEOUT,
    AsyncHttp,
    SyncHttp,
    as_object,
    new_async_http,
    new_sync_http,
    path,
)
from dbplane.client.auth import AsyncAuth, Auth
from dbplane.client.databases import (
    AsyncDatabases,
    AsyncDefaultDatabase,
    Databases,
    DefaultDatabase,
)
from dbplane.client.operations import AsyncOperations, Operations
from dbplane.client.roles import AsyncRoles, Roles
from dbplane.client.routines import AsyncFiles, Files
from dbplane.client.tables import AsyncTable, Table
from dbplane.client.tokens import AsyncTokens, Tokens
from dbplane.client.users import AsyncUsers, Users

__all__ = ["ApiClient", "AsyncApiClient"]


class ApiClient:
    """A client of one dbplane server.

    ``token`` defaults to ``DBPLANE_TOKEN`` and ``base_url`` to ``DBPLANE_URL``, then
    ``http://127.0.0.1:8080``. Every error the server answers is raised as the
    ``dbplane.errors`` class of its ``code``, with a ``status_code`` attribute; a server
    that cannot be reached raises ``ConnectionFailed``. Close it, or use it in ``with``.
    """

    databases: Databases
    database: DefaultDatabase
    auth: Auth
    users: Users
    roles: Roles
    tokens: Tokens
    operations: Operations
    files: Files

    def __init__(self, token: str | None = None, base_url: str | None = None, *,
                 timeout: float | None = DEFAULT_TIMEOUT,
                 transport: httpx.BaseTransport | None = None) -> None:
        self._bind(new_sync_http(token, base_url, timeout, transport))

    def _bind(self, http: SyncHttp) -> None:
        self._http = http
        self.databases = Databases(http)
        self.database = DefaultDatabase(http)
        self.auth = Auth(http)
        self.users = Users(http)
        self.roles = Roles(http)
        self.tokens = Tokens(http)
        self.operations = Operations(http)
        self.files = Files(http)

    @property
    def base_url(self) -> str:
        return self._http.base_url

    def with_token(self, token: str) -> ApiClient:
        """A client of the same server with another token, such as the session token of
        ``client.auth.login(...)["token"]``. It shares this client's connections: closing
        it does nothing, closing this client closes both."""
        other = ApiClient.__new__(ApiClient)
        other._bind(self._http.with_token(token))
        return other

    def health(self) -> dict[str, Any]:
        """``{"status", "version", "metadata_store"}``; needs no token. Raises
        Unavailable when the server's metadata store does not answer."""
        return as_object(self._http.request("GET", path("health"), authenticated=False))

    def user(self) -> dict[str, Any]:
        """The user of this client's session token (NotAUserSession for an API token)."""
        return self.auth.user()

    def tables(self, name: str) -> Table:
        """A table or view of the default database (``/v1/tables/{name}``); for another
        database, ``client.databases.get("shop").tables(name)``."""
        return self.database.tables(name)

    def close(self) -> None:
        """Close the connections."""
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"ApiClient(base_url={self.base_url!r})"


class AsyncApiClient:
    """The async twin of :class:`ApiClient`: the same resources and methods, awaited.
    Close it with ``await client.close()`` or use it in ``async with``."""

    databases: AsyncDatabases
    database: AsyncDefaultDatabase
    auth: AsyncAuth
    users: AsyncUsers
    roles: AsyncRoles
    tokens: AsyncTokens
    operations: AsyncOperations
    files: AsyncFiles

    def __init__(self, token: str | None = None, base_url: str | None = None, *,
                 timeout: float | None = DEFAULT_TIMEOUT,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self._bind(new_async_http(token, base_url, timeout, transport))

    def _bind(self, http: AsyncHttp) -> None:
        self._http = http
        self.databases = AsyncDatabases(http)
        self.database = AsyncDefaultDatabase(http)
        self.auth = AsyncAuth(http)
        self.users = AsyncUsers(http)
        self.roles = AsyncRoles(http)
        self.tokens = AsyncTokens(http)
        self.operations = AsyncOperations(http)
        self.files = AsyncFiles(http)

    @property
    def base_url(self) -> str:
        return self._http.base_url

    def with_token(self, token: str) -> AsyncApiClient:
        """A client of the same server with another token; see
        :meth:`ApiClient.with_token`."""
        other = AsyncApiClient.__new__(AsyncApiClient)
        other._bind(self._http.with_token(token))
        return other

    async def health(self) -> dict[str, Any]:
        """``{"status", "version", "metadata_store"}``; needs no token."""
        return as_object(await self._http.request("GET", path("health"),
                                                  authenticated=False))

    async def user(self) -> dict[str, Any]:
        """The user of this client's session token (NotAUserSession for an API token)."""
        return await self.auth.user()

    def tables(self, name: str) -> AsyncTable:
        """A table or view of the default database; see :meth:`ApiClient.tables`."""
        return self.database.tables(name)

    async def close(self) -> None:
        """Close the connections."""
        await self._http.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        await self.close()

    def __repr__(self) -> str:
        return f"AsyncApiClient(base_url={self.base_url!r})"
