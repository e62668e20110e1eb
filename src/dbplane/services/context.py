"""What a running dbplane process holds: settings, the metadata store, the secret box and
one connection pool per registered database. Built once at start-up, closed at shutdown.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any

from dbplane.engines import Engine, create_engine_for, parse_database_url
from dbplane.meta.records import DatabaseRecord
from dbplane.meta.secrets import SecretBox, load_or_create_key
from dbplane.meta.store import MetaStore
from dbplane.services.cache import TTLCache
from dbplane.settings import Settings

__all__ = ["AppContext", "ConnectionRegistry", "now_ms"]


def now_ms() -> int:
    return time.time_ns() // 1_000_000


class ConnectionRegistry:
    """One engine (pool) per database, created on first use and reused.

    Keyed by database id and its encrypted URL, so a changed URL gets a new pool.
    """

    def __init__(self, secrets: SecretBox, settings: Settings) -> None:
        self._secrets = secrets
        self._settings = settings
        self._engines: dict[str, tuple[str, Engine]] = {}
        self._lock = asyncio.Lock()

    async def engine_for(self, row: DatabaseRecord) -> Engine:
        """The open engine of the database described by a metadata record."""
        secret = row.url_secret
        cached = self._engines.get(row.id)
        # the same record (the database cache's) is the same secret: no compare
        if cached is not None and (cached[0] is secret or cached[0] == secret):
            return cached[1]
        async with self._lock:
            cached = self._engines.get(row.id)
            if cached is not None and cached[0] == secret:
                return cached[1]
            if cached is not None:
                await cached[1].close()
            url = parse_database_url(self._secrets.decrypt(secret))
            engine = create_engine_for(url, timeout=self._settings.health_timeout_seconds,
                                       create=row.mode == "embedded")
            self._engines[row.id] = (secret, engine)
            return engine

    async def drop(self, db_id: str) -> None:
        cached = self._engines.pop(db_id, None)
        if cached is not None:
            await cached[1].close()

    async def close(self) -> None:
        engines, self._engines = self._engines, {}
        for _, engine in engines.values():
            await engine.close()


@dataclass
class AppContext:
    """Everything a service needs; one per process."""

    settings: Settings
    meta: MetaStore
    secrets: SecretBox
    connections: ConnectionRegistry
    generated_admin_token: str | None = field(default=None)
    principals: TTLCache[Any] = field(default_factory=lambda: TTLCache(0))
    """Bearer token hash → caller, for ``cache_seconds`` (cleared on any auth change)."""
    database_rows: TTLCache[DatabaseRecord] = field(default_factory=lambda: TTLCache(0))
    """Database id or resource_id → metadata record (cleared on any database change)."""
    extensions: dict[str, Any] = field(default_factory=dict)
    """Per-process state of a capability (e.g. the Tables API's schema cache)."""
    background: set[asyncio.Task[Any]] = field(default_factory=set)
    """Short tasks started by requests that none waits for (``spawn``); cancelled at
    close."""

    def spawn(self, work: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        """Run ``work`` in the background, kept referenced until it ends."""
        task = asyncio.get_running_loop().create_task(work)
        self.background.add(task)
        task.add_done_callback(self.background.discard)
        return task

    @classmethod
    async def open(cls, settings: Settings) -> AppContext:
        # every file dbplane or its tools create (metadata store, embedded databases,
        # archives, temporary files) is this user's only: files 0600, directories 0700
        os.umask(0o077)
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        key = load_or_create_key(
            settings.secret_key.get_secret_value() if settings.secret_key else None,
            settings.key_file)
        secrets = SecretBox(key)
        meta = await MetaStore.open(
            settings.meta_url.get_secret_value() if settings.meta_url else None,
            settings.meta_file)
        _private(settings)
        return cls(settings=settings, meta=meta, secrets=secrets,
                   connections=ConnectionRegistry(secrets, settings),
                   principals=TTLCache(settings.cache_seconds),
                   database_rows=TTLCache(settings.cache_seconds))

    async def close(self) -> None:
        tasks = list(self.background)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self.connections.close()
        await self.meta.close()


def _private(settings: Settings) -> None:
    """Make what an earlier version created group- or world-readable private again."""
    for directory in (settings.data_dir, settings.embedded_dir, settings.backups_dir):
        if directory.is_dir():
            directory.chmod(0o700)
    for directory in (settings.embedded_dir, settings.backups_dir):
        if directory.is_dir():
            for path in directory.iterdir():
                if path.is_file():
                    path.chmod(0o600)
    for path in (settings.meta_file, settings.key_file):
        for name in (path, path.with_name(path.name + "-wal"),
                     path.with_name(path.name + "-shm")):
            if name.is_file():
                name.chmod(0o600)
