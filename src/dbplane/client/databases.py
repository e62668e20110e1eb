"""``client.databases`` and ``client.database``: the databases dbplane serves.

A database comes back as a :class:`Database`: the API's object as a ``dict``, that also
remembers the client it came from, so what belongs to one database (its schema, tables,
backups) hangs off it: ``client.databases.get("shop").tables("users").list()``.
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from typing import Any

from dbplane.client import upgrades as _upgrades
from dbplane.client._http import AsyncHttp, SyncHttp, as_list, as_object, path, unwrap
from dbplane.client.actions import action, async_action
from dbplane.client.backups import AsyncBackups, Backups
from dbplane.client.deployments import (
    AsyncConfig,
    AsyncDeployments,
    Config,
    Deployments,
    async_deploy,
    deploy,
)
from dbplane.client.operations import (
    AsyncOperation,
    Operation,
    as_async_operation,
    as_operation,
)
from dbplane.client.pitr import (
    RestoreTime,
    async_pitr_restore,
    async_pitr_window,
    pitr_restore,
    pitr_window,
)
from dbplane.client.routines import (
    AsyncFactory,
    AsyncMigrations,
    AsyncSeeder,
    Factory,
    Migrations,
    Seeder,
)
from dbplane.client.schema import AsyncSchema, Schema
from dbplane.client.tables import AsyncTable, Table

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

# the default database's tables are also served without a database in the path
_DEFAULT_TABLES = ("tables",)


def _tables_base(ref: str) -> tuple[str, ...]:
    return ("databases", ref, "tables")


def _reloaded(answer: Any) -> int:
    return int(as_object(answer)["tables"])


def _ref(db: DatabaseRef) -> str:
    return db if isinstance(db, str) else str(db["id"])


def _create_body(resource_id: str, url: str | None, type_name: str | None,
                 app_name: str | None, periodic_backups_enabled: bool | None,
                 periodic_backups_scheduled_at: int | builtins.list[int] | None,
                 mode: str | None = None,
                 restore_drills_enabled: bool | None = None) -> dict[str, Any]:
    fields = {"resource_id": resource_id, "url": url, "type_name": type_name, "mode": mode,
              "app_name": app_name, "periodic_backups_enabled": periodic_backups_enabled,
              "periodic_backups_scheduled_at": periodic_backups_scheduled_at,
              "restore_drills_enabled": restore_drills_enabled}
    return {"database": {k: v for k, v in fields.items() if v is not None}}


def _update_body(app_name: str | None, url: str | None,
                 periodic_backups_enabled: bool | None,
                 periodic_backups_scheduled_at: int | builtins.list[int] | None,
                 restore_drills_enabled: bool | None = None) -> dict[str, Any]:
    fields = {"app_name": app_name, "url": url,
              "periodic_backups_enabled": periodic_backups_enabled,
              "periodic_backups_scheduled_at": periodic_backups_scheduled_at,
              "restore_drills_enabled": restore_drills_enabled}
    return {"database": {k: v for k, v in fields.items() if v is not None}}


class _Parts:
    """What hangs off one database on the sync client: its schema, routines, backups and
    actions. ``_refs`` is (the database's ref, the ref of its schema and routines paths:
    None for ``client.database``, whose paths are the seeds' ``/v1/schema``,
    ``/v1/database/...``)."""

    __slots__ = ()
    _http: SyncHttp

    def _refs(self) -> tuple[str, str | None]:
        raise NotImplementedError

    @property
    def schema(self) -> Schema:
        """Its schema as code: ``.snapshot()``, ``.diff(snapshot)``, ``.apply(diff)``."""
        return Schema(self._http, self._refs()[1])

    @property
    def migrations(self) -> Migrations:
        """Its migrations: ``.run()``, ``.rollback()``, ``.list()``."""
        return Migrations(self._http, self._refs()[1])

    @property
    def factory(self) -> Factory:
        """Its factories: ``.run(file_id)``."""
        return Factory(self._http, self._refs()[1])

    @property
    def seeder(self) -> Seeder:
        """Its seeders: ``.run(file_id)``."""
        return Seeder(self._http, self._refs()[1])

    @property
    def backups(self) -> Backups:
        """Its backups: ``.create()``, ``.list()``, ``.restore(id)``…"""
        return Backups(self._http, self._refs()[0])

    def action(self, name: str, params: dict[str, Any] | str | None = None) -> Any:
        """Run one of its actions (``list-actions`` names them) and answer its result."""
        return action(self._http, self._refs()[0], name, params)

    @property
    def deployments(self) -> Deployments:
        """Its deployments: ``.list()``, ``.get(id)``."""
        return Deployments(self._http, self._refs()[0])

    @property
    def config(self) -> Config:
        """A managed server's settings: ``.show()``, ``.set(name=value)``."""
        return Config(self._http, self._refs()[0])

    def redeploy(self, wait: bool = False, timeout: float | None = None) -> dict[str, Any]:
        """Redeploy (a managed server restarts with its pending settings through timed
        steps); the deployment object, finished when ``wait``. DeploymentConflict (409)
        while another runs."""
        return deploy(self._http, self._refs()[0], "redeploy", wait, timeout)

    def restart(self, wait: bool = False, timeout: float | None = None) -> dict[str, Any]:
        """Restart on the running configuration; see :meth:`redeploy`."""
        return deploy(self._http, self._refs()[0], "restart", wait, timeout)

    def stop(self, wait: bool = False, timeout: float | None = None) -> dict[str, Any]:
        """Stop a managed server; NotManaged (DBP-M102) for another database."""
        return deploy(self._http, self._refs()[0], "stop", wait, timeout)

    def start(self, wait: bool = False, timeout: float | None = None) -> dict[str, Any]:
        """Start a stopped managed server."""
        return deploy(self._http, self._refs()[0], "start", wait, timeout)

    def status(self) -> dict[str, Any]:
        """Qovery's status object (``state``, ``service_deployment_status``…)."""
        return as_object(self._http.request("GET", path("databases", self._refs()[0],
                                                        "status")))

    def pitr_window(self) -> dict[str, Any]:
        """The point-in-time restore window (``earliest``, ``latest``, ``ranges``…) of a
        managed PostgreSQL with wal-archiving on."""
        return pitr_window(self._http, self._refs()[0])

    def pitr_restore(self, restore_time: RestoreTime, wait: bool = False,
                     timeout: float | None = None) -> Operation:
        """Restore it in place to ``restore_time`` (RFC 3339 text or an aware datetime);
        answers the operation, ended when ``wait``. RestoreTimeOutsideWindow names the
        window; RestoreTimeInvalid, PitrNotEnabled, NotManaged, OperationConflict."""
        return pitr_restore(self._http, self._refs()[0], restore_time, wait, timeout)

    def versions(self) -> dict[str, Any]:
        """The build a managed server runs (``current``), the newer ones it can move to
        (``versions``, ``next_version_id``) and the one kept by the last upgrade."""
        return _upgrades.versions(self._http, self._refs()[0])

    def upgrade(self, version_id: str | None = None, wait: bool = False,
                timeout: float | None = None) -> Operation:
        """Upgrade a managed server to the next version (or ``version_id``); answers the
        operation, ended when ``wait``. NoNewerVersion, UpgradeIneligible,
        PreviousVersionKept (409), NotManaged (400); UpgradeFailed when it fails (the
        server serves as before)."""
        return _upgrades.start(self._http, self._refs()[0], version_id, False, wait,
                               timeout)

    def upgrade_rollback(self, wait: bool = False, timeout: float | None = None
                         ) -> Operation:
        """Switch back to the version the last upgrade kept: what was written since the
        upgrade is lost. NoPreviousVersion (409) when none is kept."""
        return _upgrades.start(self._http, self._refs()[0], None, True, wait, timeout)

    def remove_previous_version(self) -> dict[str, Any]:
        """Delete the version the last upgrade kept (no rollback after)."""
        return _upgrades.remove_previous(self._http, self._refs()[0])


class _AsyncParts:
    """:class:`_Parts` on the async client."""

    __slots__ = ()
    _http: AsyncHttp

    def _refs(self) -> tuple[str, str | None]:
        raise NotImplementedError

    @property
    def schema(self) -> AsyncSchema:
        """Its schema as code; see :class:`_Parts`."""
        return AsyncSchema(self._http, self._refs()[1])

    @property
    def migrations(self) -> AsyncMigrations:
        """Its migrations."""
        return AsyncMigrations(self._http, self._refs()[1])

    @property
    def factory(self) -> AsyncFactory:
        """Its factories."""
        return AsyncFactory(self._http, self._refs()[1])

    @property
    def seeder(self) -> AsyncSeeder:
        """Its seeders."""
        return AsyncSeeder(self._http, self._refs()[1])

    @property
    def backups(self) -> AsyncBackups:
        """Its backups."""
        return AsyncBackups(self._http, self._refs()[0])

    async def action(self, name: str, params: dict[str, Any] | str | None = None) -> Any:
        """Run one of its actions and answer its result."""
        return await async_action(self._http, self._refs()[0], name, params)

    @property
    def deployments(self) -> AsyncDeployments:
        """Its deployments."""
        return AsyncDeployments(self._http, self._refs()[0])

    @property
    def config(self) -> AsyncConfig:
        """A managed server's settings."""
        return AsyncConfig(self._http, self._refs()[0])

    async def redeploy(self, wait: bool = False,
                       timeout: float | None = None) -> dict[str, Any]:  # noqa: ASYNC109 (the sync twin's)
        """Redeploy; see :meth:`_Parts.redeploy`."""
        return await async_deploy(self._http, self._refs()[0], "redeploy", wait, timeout)

    async def restart(self, wait: bool = False,
                      timeout: float | None = None) -> dict[str, Any]:  # noqa: ASYNC109 (the sync twin's)
        """Restart on the running configuration."""
        return await async_deploy(self._http, self._refs()[0], "restart", wait, timeout)

    async def stop(self, wait: bool = False, timeout: float | None = None) -> dict[str, Any]:  # noqa: ASYNC109 (the sync twin's)
        """Stop a managed server."""
        return await async_deploy(self._http, self._refs()[0], "stop", wait, timeout)

    async def start(self, wait: bool = False,
                    timeout: float | None = None) -> dict[str, Any]:  # noqa: ASYNC109 (the sync twin's)
        """Start a stopped managed server."""
        return await async_deploy(self._http, self._refs()[0], "start", wait, timeout)

    async def status(self) -> dict[str, Any]:
        """Qovery's status object."""
        return as_object(await self._http.request("GET", path("databases",
                                                              self._refs()[0], "status")))

    async def pitr_window(self) -> dict[str, Any]:
        """The point-in-time restore window; see :meth:`_Parts.pitr_window`."""
        return await async_pitr_window(self._http, self._refs()[0])

    async def pitr_restore(self, restore_time: RestoreTime, wait: bool = False,
                           timeout: float | None = None,  # noqa: ASYNC109
                           ) -> AsyncOperation:
        """Restore it in place to ``restore_time``; see :meth:`_Parts.pitr_restore`."""
        return await async_pitr_restore(self._http, self._refs()[0], restore_time, wait,
                                        timeout)

    async def versions(self) -> dict[str, Any]:
        """See :meth:`_Parts.versions`."""
        return await _upgrades.async_versions(self._http, self._refs()[0])

    async def upgrade(self, version_id: str | None = None, wait: bool = False,
                      timeout: float | None = None,  # noqa: ASYNC109
                      ) -> AsyncOperation:
        """See :meth:`_Parts.upgrade`."""
        return await _upgrades.async_start(self._http, self._refs()[0], version_id, False,
                                           wait, timeout)

    async def upgrade_rollback(self, wait: bool = False,
                               timeout: float | None = None,  # noqa: ASYNC109
                               ) -> AsyncOperation:
        """See :meth:`_Parts.upgrade_rollback`."""
        return await _upgrades.async_start(self._http, self._refs()[0], None, True, wait,
                                           timeout)

    async def remove_previous_version(self) -> dict[str, Any]:
        """See :meth:`_Parts.remove_previous_version`."""
        return await _upgrades.async_remove_previous(self._http, self._refs()[0])


class Database(_Parts, dict[str, Any]):
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

    def _refs(self) -> tuple[str, str | None]:
        return self.ref, self.ref

    def tables(self, name: str) -> Table:
        """The rows of one table or view (sends nothing until a method is called)."""
        return Table(self._http, _tables_base(self.ref), name)

    def list_tables(self) -> builtins.list[dict[str, Any]]:
        """Every table and view the caller may read: ``name``, ``kind`` (table or view),
        ``primary_key``, ``columns`` (name, type, kind, nullable, default, primary_key,
        autoincrement), ``foreign_keys`` and ``relations`` (what ``include`` accepts)."""
        return as_list(self._http.request("GET", path(*_tables_base(self.ref))))

    def reload_tables(self) -> int:
        """Read the database's schema again now; answers the number of tables and views.
        Only needed after a change made behind dbplane's back that the server has not
        noticed yet."""
        return _reloaded(self._http.request("POST", path(*_tables_base(self.ref), "reload")))

    def openapi(self) -> dict[str, Any]:
        """The OpenAPI 3.1 document of this database's tables, from its live schema."""
        return as_object(self._http.request("GET", path("databases", self.ref,
                                                        "openapi.json")))



class AsyncDatabase(_AsyncParts, dict[str, Any]):
    """One database as the API describes it, bound to the async client that fetched it."""

    __slots__ = ("_http",)

    def __init__(self, http: AsyncHttp, data: Mapping[str, Any]) -> None:
        super().__init__(data)
        self._http = http

    @property
    def ref(self) -> str:
        """The id the API knows this database by."""
        return str(self["id"])

    def _refs(self) -> tuple[str, str | None]:
        return self.ref, self.ref

    def tables(self, name: str) -> AsyncTable:
        """The rows of one table or view; see :meth:`Database.tables`."""
        return AsyncTable(self._http, _tables_base(self.ref), name)

    async def list_tables(self) -> builtins.list[dict[str, Any]]:
        """Every table and view the caller may read; see :meth:`Database.list_tables`."""
        return as_list(await self._http.request("GET", path(*_tables_base(self.ref))))

    async def reload_tables(self) -> int:
        """Read the schema again now; answers the number of tables and views."""
        return _reloaded(await self._http.request("POST", path(*_tables_base(self.ref),
                                                               "reload")))

    async def openapi(self) -> dict[str, Any]:
        """The OpenAPI 3.1 document of this database's tables."""
        return as_object(await self._http.request("GET", path("databases", self.ref,
                                                              "openapi.json")))



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
               mode: str | None = None, timeout: float | None = None,
               restore_drills_enabled: bool | None = None) -> Database:
        """Register an external database by ``url`` (the server checks the connection
        first), serve an existing SQLite file (``sqlite:////abs/path.db``), create an
        embedded SQLite database when ``url`` is None, or with ``mode="managed"``
        provision a server dbplane runs (``type_name`` postgresql, mysql or redis: waits
        for its provisioning operation, raising the error it failed with).

        Raises DatabaseExists, InvalidField, InvalidDatabaseUrl, or a
        ConnectionCheckFailed subclass that says what is wrong with the url."""
        body = _create_body(resource_id, url, type_name, app_name, periodic_backups_enabled,
                            periodic_backups_scheduled_at, mode, restore_drills_enabled)
        answer = self._http.request("POST", path("databases"), json=body)
        if mode == "managed":
            as_operation(self._http, answer).wait(timeout=timeout, poll=0.1)
            return self.get(resource_id)
        return self._one(answer)

    def update(self, db: DatabaseRef, *, app_name: str | None = None,
               url: str | None = None, periodic_backups_enabled: bool | None = None,
               periodic_backups_scheduled_at: int | builtins.list[int] | None = None,
               restore_drills_enabled: bool | None = None) -> Database:
        """Change the given settings and leave the others (None means unchanged; an empty
        list of hours clears the schedule). Hours are 0-23, UTC. ``restore_drills_enabled``:
        run a restore drill after every periodic backup."""
        body = _update_body(app_name, url, periodic_backups_enabled,
                            periodic_backups_scheduled_at, restore_drills_enabled)
        return self._one(self._http.request("PATCH", path("databases", _ref(db)), json=body))

    def delete(self, db: DatabaseRef, *, purge: bool = False) -> None:
        """Unregister a database; an external or embedded one's data is never dropped, a
        managed server is stopped and its files removed only with ``purge``. Raises
        ProtectedDatabase for the default database."""
        self._http.request("DELETE", path("databases", _ref(db)),
                           params=[("purge", "true")] if purge else None)


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
                     mode: str | None = None, timeout: float | None = None,  # noqa: ASYNC109 (the sync twin's)
                     restore_drills_enabled: bool | None = None) -> AsyncDatabase:
        """Register, create or provision a database; see :meth:`Databases.create`."""
        body = _create_body(resource_id, url, type_name, app_name, periodic_backups_enabled,
                            periodic_backups_scheduled_at, mode, restore_drills_enabled)
        answer = await self._http.request("POST", path("databases"), json=body)
        if mode == "managed":
            await as_async_operation(self._http, answer).wait(timeout=timeout, poll=0.1)
            return await self.get(resource_id)
        return self._one(answer)

    async def update(self, db: DatabaseRef, *, app_name: str | None = None,
                     url: str | None = None, periodic_backups_enabled: bool | None = None,
                     periodic_backups_scheduled_at: int | builtins.list[int] | None = None,
                     restore_drills_enabled: bool | None = None) -> AsyncDatabase:
        """Change the given settings; see :meth:`Databases.update`."""
        body = _update_body(app_name, url, periodic_backups_enabled,
                            periodic_backups_scheduled_at, restore_drills_enabled)
        return self._one(await self._http.request("PATCH", path("databases", _ref(db)),
                                                  json=body))

    async def delete(self, db: DatabaseRef, *, purge: bool = False) -> None:
        """Unregister a database; see :meth:`Databases.delete`."""
        await self._http.request("DELETE", path("databases", _ref(db)),
                                 params=[("purge", "true")] if purge else None)


class DefaultDatabase(_Parts):
    """``client.database``: the database dbplane serves by default (``default``), for
    code that works with one database only."""

    ref = DEFAULT_RESOURCE_ID

    def _refs(self) -> tuple[str, str | None]:
        return self.ref, None

    def __init__(self, http: SyncHttp) -> None:
        self._http = http

    def get(self) -> Database:
        """The default database, as :meth:`Databases.get` describes it."""
        return Databases(self._http).get(self.ref)

    def tables(self, name: str) -> Table:
        """The rows of one of its tables or views (``/v1/tables/{name}``); the same as
        ``client.tables(name)``."""
        return Table(self._http, _DEFAULT_TABLES, name)

    def list_tables(self) -> builtins.list[dict[str, Any]]:
        """Its tables and views; see :meth:`Database.list_tables`."""
        return as_list(self._http.request("GET", path(*_DEFAULT_TABLES)))

    def reload_tables(self) -> int:
        """Read its schema again now; answers the number of tables and views."""
        return _reloaded(self._http.request("POST", path(*_DEFAULT_TABLES, "reload")))

    def openapi(self) -> dict[str, Any]:
        """The OpenAPI 3.1 document of its tables."""
        return as_object(self._http.request("GET", path("databases", self.ref,
                                                        "openapi.json")))



class AsyncDefaultDatabase(_AsyncParts):
    """``client.database`` of the async client; see :class:`DefaultDatabase`."""

    ref = DEFAULT_RESOURCE_ID

    def _refs(self) -> tuple[str, str | None]:
        return self.ref, None

    def __init__(self, http: AsyncHttp) -> None:
        self._http = http

    async def get(self) -> AsyncDatabase:
        """The default database, as :meth:`AsyncDatabases.get` describes it."""
        return await AsyncDatabases(self._http).get(self.ref)

    def tables(self, name: str) -> AsyncTable:
        """The rows of one of its tables or views; the same as ``client.tables(name)``."""
        return AsyncTable(self._http, _DEFAULT_TABLES, name)

    async def list_tables(self) -> builtins.list[dict[str, Any]]:
        """Its tables and views; see :meth:`Database.list_tables`."""
        return as_list(await self._http.request("GET", path(*_DEFAULT_TABLES)))

    async def reload_tables(self) -> int:
        """Read its schema again now; answers the number of tables and views."""
        return _reloaded(await self._http.request("POST", path(*_DEFAULT_TABLES, "reload")))

    async def openapi(self) -> dict[str, Any]:
        """The OpenAPI 3.1 document of its tables."""
        return as_object(await self._http.request("GET", path("databases", self.ref,
                                                              "openapi.json")))

