"""The Redis engine, over redis-py's asyncio client."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from dbplane.engines.base import Engine, Health
from dbplane.engines.urls import DatabaseUrl, redact_text
from dbplane.errors import ConnectionCheckFailed, DatabaseAuthFailed, DbplaneError

if TYPE_CHECKING:  # the driver is imported with the first client
    import redis.asyncio as aioredis

__all__ = ["RedisEngine"]


class RedisEngine(Engine):
    type_name = "redis"
    label = "Redis"
    url_schemes = ("redis", "rediss")
    default_port = 6379
    parts = {"backups": "dbplane.engines.redis.backups:RedisBackups",
             "managed": "dbplane.engines.redis.managed:ManagedRedis",
             "fingerprint": "dbplane.engines.redis.fingerprint"}

    def __init__(self, url: DatabaseUrl, *, timeout: float = 3.0) -> None:
        super().__init__(url, timeout=timeout)
        self._client: aioredis.Redis | None = None

    @property
    def client(self) -> aioredis.Redis:
        if self._client is None:
            import redis.asyncio as aioredis

            self._client = aioredis.Redis.from_url(
                self.url.raw, socket_connect_timeout=self.timeout,
                socket_timeout=self.timeout, max_connections=20)
        return self._client

    def connect_error(self, exc: BaseException) -> ConnectionCheckFailed | None:
        from dbplane.engines.redis import errors

        return errors.connect_error(exc, self.url)

    async def connect(self) -> None:
        try:
            await asyncio.wait_for(self.client.ping(), self.timeout)
            await self._prove_credentials()
        except DatabaseAuthFailed:
            await self.close()
            raise
        except Exception as exc:
            await self.close()
            known = self.connect_error(exc)
            if known is not None:
                raise known from exc
            raise ConnectionCheckFailed("Redis did not answer: " + redact_text(str(exc)),
                                        field="url") from exc

    async def _prove_credentials(self) -> None:
        """The URL's password must be one the server checks: redis-py connects anyway
        when the server wants none, and the backup tool would fail on it later."""
        url = self.url.url
        if url.password is None and not url.username:
            return
        from redis import exceptions as rex

        args = [url.username] if url.username else []
        try:
            await asyncio.wait_for(self.client.execute_command(  # type: ignore[no-untyped-call]
                "AUTH", *args, str(url.password or "")), self.timeout)
        except rex.AuthenticationError as exc:
            if "without any password configured" not in str(exc):
                raise
            raise DatabaseAuthFailed(
                "the Redis server requires no password but the url gives one: remove it "
                "from the url (or set one on the server)", field="url") from exc

    async def health(self) -> Health:
        try:
            await asyncio.wait_for(self.client.ping(), self.timeout)
        except Exception as exc:
            known = self.connect_error(exc)
            return Health("unreachable", known.detail if known else redact_text(str(exc)))
        return Health("running")

    async def version(self) -> str:
        info = await self.client.info("server")
        value = info.get("redis_version")
        if not isinstance(value, str):
            raise DbplaneError("Redis answered no redis_version")
        return value

    async def features(self) -> list[dict[str, str]]:
        from redis import exceptions as rex

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
        from redis import exceptions as rex

        try:
            value = await self.client.config_get(key)
        except rex.ResponseError:
            return ""
        return str(value.get(key) or "")

    async def close(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            await client.aclose()
