"""InfluxDB actions: logical databases and the retention policies of the database the
URL names (the Scalingo seed's ``list-retention-policies``, ``add-retention-policy``,
``del-retention-policy``).

InfluxDB answers ``CREATE DATABASE`` of an existing name, ``DROP DATABASE`` and ``DROP
RETENTION POLICY`` of a missing one with success: dbplane reads the list first, so an
existing or unknown name is a 409 or 404 naming it and nothing is sent. Names reach
InfluxQL only after the service checked them against its rules, and always as quoted
identifiers (:func:`~dbplane.engines.influxdb.engine.ident`); durations are rewritten
from their parsed value, never copied.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import httpx

from dbplane.engines.actions import ActionsAdapter, translated
from dbplane.engines.influxdb import durations
from dbplane.engines.influxdb.engine import InfluxdbEngine, InfluxQueryError, ident
from dbplane.engines.urls import redact_text
from dbplane.errors import (
    ActionRefused,
    ActionServerUnavailable,
    DbplaneError,
    InvalidActionParams,
    LogicalDatabaseExists,
    LogicalDatabaseNotFound,
    RetentionPolicyExists,
    RetentionPolicyNotFound,
)

__all__ = ["InfluxdbActions"]


def _known(exc: BaseException) -> DbplaneError | None:
    if isinstance(exc, InfluxQueryError):
        return ActionRefused(f"the database server refused the action: {exc}")
    if isinstance(exc, httpx.TransportError):
        return ActionServerUnavailable("the database server did not answer: "
                                       + (redact_text(str(exc)) or type(exc).__name__))
    return None


class InfluxdbActions(ActionsAdapter):
    supported: ClassVar[frozenset[str]] = frozenset({
        "list-actions", "list-databases", "create-database", "delete-database",
        "reset-database", "list-retention-policies", "add-retention-policy",
        "del-retention-policy",
    })
    system_databases: ClassVar[frozenset[str]] = frozenset({"_internal"})

    engine: InfluxdbEngine

    async def _run(self, q: str, *, database: str | None = None,
                   known: Callable[[BaseException], DbplaneError | None] = _known) -> None:
        async with translated(self.engine, known):
            await self.engine.query(q, database=database)

    async def _rows(self, q: str) -> list[dict[str, Any]]:
        async with translated(self.engine, _known):
            return await self.engine.rows(q)

    # -- logical databases -------------------------------------------------------------

    async def list_databases(self) -> list[str]:
        return sorted(str(r["name"]) for r in await self._rows("SHOW DATABASES"))

    async def _require(self, name: str) -> None:
        if name not in await self.list_databases():
            raise LogicalDatabaseNotFound(f"the server has no database named {name!r}",
                                          database_name=name, field="params.database_name")

    async def create_database(self, name: str) -> None:
        if name in await self.list_databases():
            raise LogicalDatabaseExists(f"the server already has a database named {name!r}",
                                        database_name=name, field="params.database_name")
        await self._run(f"CREATE DATABASE {ident(name)}")

    async def delete_database(self, name: str, *, force: bool = False) -> None:
        await self._require(name)
        await self._run(f"DROP DATABASE {ident(name)}")

    async def reset_database(self, name: str) -> None:
        """Drop every series (and so every measurement and point) of every retention
        policy; the database, its retention policies and continuous queries stay."""
        await self._require(name)
        await self._run("DROP SERIES FROM /.*/", database=name)

    # -- retention policies of the URL's database --------------------------------------

    def _database(self) -> str:
        return self.engine.url.database or ""

    async def list_retention_policies(self) -> list[dict[str, Any]]:
        rows = await self._rows(f"SHOW RETENTION POLICIES ON {ident(self._database())}")
        return [{"name": str(r["name"]),
                 "duration": durations.seed_duration(str(r["duration"])),
                 "default": bool(r["default"])} for r in rows]

    async def _policy_names(self) -> set[str]:
        return {p["name"] for p in await self.list_retention_policies()}

    async def add_retention_policy(self, name: str, duration: str, default: bool) -> None:
        seconds = durations.seconds_of(duration)
        if seconds is None or (seconds != 0 and not (
                durations.MIN_SECONDS <= seconds <= durations.MAX_SECONDS)):
            raise InvalidActionParams(
                f"params.duration: {duration!r} is not a retention duration InfluxDB "
                "takes: \"0\" (infinite) or from 1h to 36500d, written as a whole number "
                "of m, h, d or w (\"90m\", \"12h\", \"30d\")",
                field="params.duration", value=duration)
        if name in await self._policy_names():
            raise RetentionPolicyExists(
                f"params.name: the database {self._database()!r} already has a retention "
                f"policy named {name!r}", field="params.name", value=name)
        q = (f"CREATE RETENTION POLICY {ident(name)} ON {ident(self._database())} "
             f"DURATION {durations.influxql_duration(seconds)} REPLICATION 1")
        await self._run(q + (" DEFAULT" if default else ""))

    async def del_retention_policy(self, name: str) -> None:
        names = await self._policy_names()
        if name not in names:
            raise RetentionPolicyNotFound(
                f"params.name: the database {self._database()!r} has no retention policy "
                f"named {name!r}; it has: " + ", ".join(sorted(names)),
                field="params.name", value=name, valid=sorted(names))
        await self._run(f"DROP RETENTION POLICY {ident(name)} ON {ident(self._database())}")
