"""The Redis engine, over redis-py's asyncio client."""

from __future__ import annotations

import asyncio
from typing import ClassVar

import redis.asyncio as aioredis
from redis import exceptions as rex

from dbplane.engines.base import Capabilities, Health, Instance, exception_chain, network_error
from dbplane.engines.urls import DatabaseUrl, redact_text
from dbplane.errors import (
    ConnectionCheckFailed,
    DatabaseAuthFailed,
    DatabaseMissing,
    DatabaseUnreachable,
    DbplaneError,
)

__all__ = ["RedisEngine"]


class RedisEngine:
    type_name: ClassVar[str] = "redis"
    capabilities: ClassVar[Capabilities] = Capabilities(sql=False, backups=True)

    def __init__(self, url: DatabaseUrl, *, timeout: float = 3.0) -> None:
        self.url = url
        self.timeout = timeout
        self._client: aioredis.Redis | None = None

    @property
    def client(self) -> aioredis.Redis:
        if self._client is None:
            self._client = aioredis.Redis.from_url(
                self.url.raw, socket_connect_timeout=self.timeout,
                socket_timeout=self.timeout, max_connections=20)
        return self._client

    def _translate(self, exc: BaseException) -> ConnectionCheckFailed | None:
        user = self.url.url.username or "default"
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
                    f"the Redis server has no database number {self.url.database!r}",
                    field="url", database_name=self.url.database)
        known = network_error(exc, self.url)
        if known is None and any(isinstance(c, (rex.ConnectionError, rex.TimeoutError))
                                 for c in exception_chain(exc)):
            known = DatabaseUnreachable(
                f"nothing answers at {self.url.host}:{self.url.port} (is the port right "
                "and the server running?)", field="url", host=self.url.host,
                port=self.url.port)
        return known

    async def connect(self) -> None:
        try:
            await asyncio.wait_for(self.client.ping(), self.timeout)
        except Exception as exc:
            await self.close()
            known = self._translate(exc)
            if known is not None:
                raise known from exc
            raise ConnectionCheckFailed("Redis did not answer: " + redact_text(str(exc)),
                                        field="url") from exc

    async def health(self) -> Health:
        try:
            await asyncio.wait_for(self.client.ping(), self.timeout)
        except Exception as exc:
            known = self._translate(exc)
            return Health("unreachable", known.detail if known else redact_text(str(exc)))
        return Health("running")

    async def version(self) -> str:
        info = await self.client.info("server")
        value = info.get("redis_version")
        if not isinstance(value, str):
            raise DbplaneError("Redis answered no redis_version")
        return value

    async def features(self) -> list[dict[str, str]]:
        features = []
        try:
            persistence = await self.client.info("persistence")
        except rex.ResponseError:  # INFO may be renamed or denied on hosted servers
            persistence = {}
        # RDB snapshots are on when the server has a save schedule
        if await self._config_value("save"):
            features.append({"name": "redis-rdb", "status": "ACTIVATED"})
        if persistence.get("aof_enabled"):
            features.append({"name": "redis-aof", "status": "ACTIVATED"})
        if self.url.url.drivername == "rediss":
            features.append({"name": "tls", "status": "ACTIVATED"})
        return features

    async def _config_value(self, key: str) -> str:
        try:
            value = await self.client.config_get(key)
        except rex.ResponseError:
            return ""
        return str(value.get(key) or "")

    def instances(self) -> list[Instance]:
        return [Instance(hostname=self.url.host or "localhost", port=self.url.port)]

    async def close(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            await client.aclose()
