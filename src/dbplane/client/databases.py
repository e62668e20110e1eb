"""``client.databases`` and ``client.database``: the databases dbplane serves.

A database comes back as a :class:`Database`: the API's object as a ``dict``, that also
remembers the client it came from, so what belongs to one database (its schema, tables,
backups) can hang off it as attributes: ``client.databases.get("shop").schema``.
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from typing import Any

from dbplane.client._http import AsyncHttp, SyncHttp, as_list, as_object, path, unwrap

__all__ = [
    "AsyncDatabase",
    "AsyncDatabases",
    "AsyncDefaultDatabase",
    "Database",
    "DatabaseRef",
    "Databases",
    "DefaultDatabase",
]

DatabaseRef = str | Mapping[str, Any]
"""A database's id or resource_id, or a database the API answered before."""

DEFAULT_RESOURCE_ID = "default"


def _ref(db: DatabaseRef) -> str:
    return db if isinstance(db, str) else str(db["id"])


def _create_body(resource_id: str, url: str | None, type_name: str | None,
                 app_name: str | None, periodic_backups_enabled: bool | None,
                 periodic_backups_scheduled_at: int | builtins.list[int] | None,
                 ) -> dict[str, Any]:
    fields = {"resource_id": resource_id, "url": url, "type_name": type_name,
              "app_name": app_name, "periodic_backups_enabled": periodic_backups_enabled,
              "periodic_backups_scheduled_at": periodic_backups_scheduled_at}
    return {"database": {k: v for k, v in fields.items() if v is not None}}


def _update_body(app_name: str | None, url: str | None,
                 periodic_backups_enabled: bool | None,
                 periodic_backups_scheduled_at: int | builtins.list[int] | None,
                 ) -> dict[str, Any]:
    fields = {"app_name": app_name, "url": url,
              "periodic_backups_enabled": periodic_backups_enabled,
              "periodic_backups_scheduled_at": periodic_backups_scheduled_at}
    return {"database": {k: v for k, v in fields.items() if v is not None}}


class Database(dict[str, Any]):
    """One database as the API describes it (``db["resource_id"]``, ``db["status"]``…),
    bound to the client that fetched it."""

    __slots__ = ("_http",)

    def __init__(self, http: SyncHttp, data: Mapping[str, Any]) -> None:
        super().__init__(data)
        self._http = http

    @property
    def ref(self) -> str:
        """The id the API knows this database by."""
        return str(self["id"])


class AsyncDatabase(dict[str, Any]):
    """One database as the API describes it, bound to the async client that fetched it."""

    __slots__ = ("_http",)

    def __init__(self, http: AsyncHttp, data: Mapping[str, Any]) -> None:
        super().__init__(data)
        self._http = http

    @property
    def ref(self) -> str:
        """The id the API knows this database by."""
        return str(self["id"])


class Databases:
    """``client.databases``: list, register, describe, change and unregister databases."""

    def __init__(self, http: SyncHttp) -> None:
        self._http = http

    def _one(self, answer: Any) -> Database:
        return Database(self._http, as_object(unwrap(answer, "database")))

    def list(self) -> builtins.list[Database]:
        """Every database the caller may see, each with a live status and version."""
        answer = self._http.request("GET", path("databases"))
        return [Database(self._http, d) for d in as_list(unwrap(answer, "databases"))]

    def get(self, db: DatabaseRef) -> Database:
        """One database by id or resource_id; raises DatabaseNotFound (DBP-D101)."""
        return self._one(self._http.request("GET", path("databases", _ref(db))))

    def create(self, resource_id: str, *, url: str | None = None,
               type_name: str | None = None, app_name: str | None = None,
               periodic_backups_enabled: bool | None = None,
               periodic_backups_scheduled_at: int | builtins.list[int] | None = None,
               ) -> Database:
        """Register an external database by ``url`` (the server checks the connection
        first), serve an existing SQLite file (``sqlite:////abs/path.db``), or create an
        embedded SQLite database when ``url`` is None.

        Raises DatabaseExists, InvalidField, InvalidDatabaseUrl, or a
        ConnectionCheckFailed subclass that says what is wrong with the url."""
        body = _create_body(resource_id, url, type_name, app_name, periodic_backups_enabled,
                            periodic_backups_scheduled_at)
        return self._one(self._http.request("POST", path("databases"), json=body))

    def update(self, db: DatabaseRef, *, app_name: str | None = None,
               url: str | None = None, periodic_backups_enabled: bool | None = None,
               periodic_backups_scheduled_at: int | builtins.list[int] | None = None,
               ) -> Database:
        """Change the given settings and leave the others (None means unchanged; an empty
        list of hours clears the schedule). Hours are 0-23, UTC."""
        body = _update_body(app_name, url, periodic_backups_enabled,
                            periodic_backups_scheduled_at)
        return self._one(self._http.request("PATCH", path("databases", _ref(db)), json=body))

    def delete(self, db: DatabaseRef) -> None:
        """Unregister a database; its data is never dropped. Raises ProtectedDatabase for
        the default database."""
        self._http.request("DELETE", path("databases", _ref(db)))


class AsyncDatabases:
    """``client.databases`` of the async client; see :class:`Databases`."""

    def __init__(self, http: AsyncHttp) -> None:
        self._http = http

    def _one(self, answer: Any) -> AsyncDatabase:
        return AsyncDatabase(self._http, as_object(unwrap(answer, "database")))

    async def list(self) -> builtins.list[AsyncDatabase]:
        """Every database the caller may see, each with a live status and version."""
        answer = await self._http.request("GET", path("databases"))
        return [AsyncDatabase(self._http, d) for d in as_list(unwrap(answer, "databases"))]

    async def get(self, db: DatabaseRef) -> AsyncDatabase:
        """One database by id or resource_id; raises DatabaseNotFound (DBP-D101)."""
        return self._one(await self._http.request("GET", path("databases", _ref(db))))

    async def create(self, resource_id: str, *, url: str | None = None,
                     type_name: str | None = None, app_name: str | None = None,
                     periodic_backups_enabled: bool | None = None,
                     periodic_backups_scheduled_at: int | builtins.list[int] | None = None,
                     ) -> AsyncDatabase:
        """Register or create a database; see :meth:`Databases.create`."""
        body = _create_body(resource_id, url, type_name, app_name, periodic_backups_enabled,
                            periodic_backups_scheduled_at)
        return self._one(await self._http.request("POST", path("databases"), json=body))

    async def update(self, db: DatabaseRef, *, app_name: str | None = None,
                     url: str | None = None, periodic_backups_enabled: bool | None = None,
                     periodic_backups_scheduled_at: int | builtins.list[int] | None = None,
                     ) -> AsyncDatabase:
        """Change the given settings; see :meth:`Databases.update`."""
        body = _update_body(app_name, url, periodic_backups_enabled,
                            periodic_backups_scheduled_at)
        return self._one(await self._http.request("PATCH", path("databases", _ref(db)),
                                                  json=body))

    async def delete(self, db: DatabaseRef) -> None:
        """Unregister a database; its data is never dropped."""
        await self._http.request("DELETE", path("databases", _ref(db)))


class DefaultDatabase:
    """``client.database``: the database dbplane serves by default (``default``), for
    code that works with one database only."""

    ref = DEFAULT_RESOURCE_ID

    def __init__(self, http: SyncHttp) -> None:
        self._http = http

    def get(self) -> Database:
        """The default database, as :meth:`Databases.get` describes it."""
        return Databases(self._http).get(self.ref)


class AsyncDefaultDatabase:
    """``client.database`` of the async client; see :class:`DefaultDatabase`."""

    ref = DEFAULT_RESOURCE_ID

    def __init__(self, http: AsyncHttp) -> None:
        self._http = http

    async def get(self) -> AsyncDatabase:
        """The default database, as :meth:`AsyncDatabases.get` describes it."""
        return await AsyncDatabases(self._http).get(self.ref)
