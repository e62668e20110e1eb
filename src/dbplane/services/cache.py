"""A small time-bounded cache for what every request looks up (the caller, the database).

Entries live ``ttl`` seconds. A change made through this process clears the cache at
once; other replicas see it when their entries expire, so ``ttl`` bounds how long a
revoked token can still be used on another replica.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

__all__ = ["TTLCache"]

V = TypeVar("V")


class TTLCache(Generic[V]):
    def __init__(self, ttl: float, max_entries: int = 10_000) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._entries: dict[str, tuple[float, V]] = {}
        self._loading: dict[str, asyncio.Future[V | None]] = {}
        self._generation = 0

    def get(self, key: str) -> V | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry[0] < time.monotonic():
            self._entries.pop(key, None)
            return None
        return entry[1]

    def put(self, key: str, value: V) -> None:
        if self.ttl <= 0:
            return
        if len(self._entries) >= self.max_entries:
            self._entries.clear()  # rare: many distinct keys within one ttl
        self._entries[key] = (time.monotonic() + self.ttl, value)

    def clear(self) -> None:
        self._entries.clear()
        self._generation += 1  # a load under way when this happened must not be kept

    async def load(self, key: str, loader: Callable[[], Awaitable[V | None]]) -> V | None:
        """The cached value, or what ``loader`` answers (kept unless None). Concurrent
        misses of one key share one load: when an entry expires under load, one request
        reads the store while the others wait for it, instead of all of them at once."""
        value = self.get(key)
        if value is not None:
            return value
        pending = self._loading.get(key)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[V | None] = asyncio.get_running_loop().create_future()
        self._loading[key] = future
        generation = self._generation
        try:
            value = await loader()
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: the waiters, if any, raise it themselves
            raise
        finally:
            self._loading.pop(key, None)
        future.set_result(value)
        if value is not None and generation == self._generation:
            self.put(key, value)
        return value
