"""A managed Redis server: ``redis.conf`` in its directory, ``requirepass``, ``CONFIG
GET`` as the catalogue and ``CONFIG SET`` for what applies live. Its process title
carries the configuration file, so an adopted pid is checked to be this server."""

from __future__ import annotations

import asyncio
import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING

from dbplane.engines.managed import ManagedServer, ServerPlan, SettingInfo
from dbplane.engines.runtime import ProcessSpec, ServerRuntime
from dbplane.engines.versions import Installation, single

if TYPE_CHECKING:  # the driver is imported with the first client
    import redis.asyncio as aioredis

__all__ = ["ManagedRedis"]

# settings Redis refuses to change with CONFIG SET (they need a restart)
_RESTART_ONLY = frozenset({"databases", "daemonize", "port", "bind", "unixsocket",
                           "io-threads", "supervised", "logfile", "dir", "dbfilename",
                           "aof-use-rdb-preamble", "appendfilename", "appenddirname",
                           "cluster-enabled", "tcp-backlog", "protected-mode"})
# settings dbplane owns (the place and the password)
_OWNED = frozenset({"port", "bind", "dir", "requirepass", "daemonize", "logfile",
                    "proc-title-template", "unixsocket", "pidfile", "include"})


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


class ManagedRedis(ManagedServer):
    type_name = "redis"

    def initialise(self, rt: ServerRuntime, plan: ServerPlan) -> None:
        """Nothing to create: Redis writes its files on its first save."""

    def config_path(self, plan: ServerPlan) -> Path:
        return plan.directory / "redis.conf"

    def config_text(self, plan: ServerPlan, settings: dict[str, str]) -> str:
        values = {"save": "3600 1 300 100 60 10000", "appendonly": "no", **settings}
        lines = ["# written by dbplane: change settings through its API",
                 f"port {plan.port}", "bind 127.0.0.1", "protected-mode yes",
                 f"dir {_quote(str(plan.directory))}", "daemonize no",
                 f"requirepass {_quote(plan.password)}",
                 'proc-title-template "{title} {listen-addr} {config-file}"']
        lines += [f"{name} {_quote(value)}" for name, value in sorted(values.items())]
        return "\n".join(lines) + "\n"

    def installations(self) -> list[Installation]:
        return single(self.type_name, shutil.which("redis-server"), ["--version"],
                      r"v=(\S+)", self.features)

    def process(self, plan: ServerPlan) -> ProcessSpec:
        binary = shutil.which("redis-server") or "redis-server"
        return ProcessSpec(argv=(binary, str(self.config_path(plan))), user=plan.user,
                           log_file=plan.directory / "server.log", marker=self.marker(plan))

    def url(self, plan: ServerPlan) -> str:
        return f"redis://:{plan.password}@127.0.0.1:{plan.port}/0"

    def ready_url(self, plan: ServerPlan) -> str:
        return self.url(plan)

    def marker(self, plan: ServerPlan) -> str:
        return str(self.config_path(plan))

    async def catalogue(self, url: str, names: list[str]) -> dict[str, SettingInfo]:
        import redis.asyncio as aioredis

        client = aioredis.Redis.from_url(url, socket_connect_timeout=5)
        try:
            found = {}
            for name in names:
                value = await client.config_get(name)
                if name in value:
                    raw = value[name]
                    text = raw.decode() if isinstance(raw, bytes) else str(raw)
                    found[name] = SettingInfo(name, text, name in _RESTART_ONLY)
            return found
        finally:
            await client.aclose()

    async def validate(self, url: str, name: str, value: str) -> str | None:
        if name in _OWNED:
            return "dbplane sets it itself"
        if not await self.catalogue(url, [name]):
            return "unknown"
        return None

    async def apply_live(self, url: str, settings: dict[str, str]) -> None:
        import redis.asyncio as aioredis
        from redis import exceptions as rex

        from dbplane.errors import InvalidSettingValue

        client = aioredis.Redis.from_url(url, socket_connect_timeout=5)
        pairs = [part for item in settings.items() for part in item]
        try:  # CONFIG SET with several pairs is atomic: all or none
            await client.execute_command("CONFIG", "SET", *pairs)  # type: ignore[no-untyped-call]
            if settings.get("appendonly") == "yes":
                await _initial_aof_written(client)
        except rex.ResponseError as exc:
            name = next((n for n in settings if n in str(exc)), next(iter(settings)))
            raise InvalidSettingValue(f"Redis refused {name} = {settings[name]!r}: {exc}",
                                      field=f"config.{name}", setting=name,
                                      value=settings[name]) from exc
        finally:
            await client.aclose()

    features = ("redis-rdb", "redis-aof")

    def feature_settings(self, name: str, enable: bool, plan: ServerPlan,
                         current: dict[str, str]) -> dict[str, str]:
        # both apply live: CONFIG SET appendonly yes rewrites the AOF from the data in
        # memory, so the next start reads it (a restart with appendonly on and only a
        # dump.rdb would come up empty)
        if name == "redis-rdb":
            return {"save": "3600 1 300 100 60 10000" if enable else ""}
        return {"appendonly": "yes" if enable else "no"}


# how long turning the AOF on waits for its first rewrite (the data in memory written out)
INITIAL_AOF_SECONDS = 120.0


async def _initial_aof_written(client: aioredis.Redis) -> None:
    """Wait until the AOF that ``appendonly yes`` starts is written: until then Redis
    refuses to stop ("Writing initial AOF, can't exit") and does not try again, so a
    restart right after would wait for the SIGKILL. Past INITIAL_AOF_SECONDS the rewrite
    goes on without us."""
    deadline = time.monotonic() + INITIAL_AOF_SECONDS
    while time.monotonic() < deadline:
        info = await client.info("persistence")
        if not info.get("aof_rewrite_in_progress") and not info.get("aof_rewrite_scheduled"):
            return
        await asyncio.sleep(0.02)
