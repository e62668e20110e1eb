"""The TTL cache: one load for many concurrent misses, and nothing kept past a clear."""

from __future__ import annotations

import asyncio

import pytest

from dbplane.services.cache import TTLCache


async def test_concurrent_misses_share_one_load() -> None:
    cache: TTLCache[int] = TTLCache(60)
    calls = 0
    gate = asyncio.Event()

    async def loader() -> int:
        nonlocal calls
        calls += 1
        await gate.wait()
        return 7

    waiting = [asyncio.ensure_future(cache.load("k", loader)) for _ in range(32)]
    await asyncio.sleep(0)
    gate.set()
    assert await asyncio.gather(*waiting) == [7] * 32
    assert calls == 1
    assert cache.get("k") == 7


async def test_a_failed_load_fails_every_waiter_and_caches_nothing() -> None:
    cache: TTLCache[int] = TTLCache(60)

    async def loader() -> int:
        await asyncio.sleep(0)
        raise RuntimeError("store down")

    results = await asyncio.gather(*(cache.load("k", loader) for _ in range(3)),
                                   return_exceptions=True)
    assert all(isinstance(r, RuntimeError) for r in results)
    assert cache.get("k") is None


async def test_a_load_that_races_a_clear_is_not_kept() -> None:
    cache: TTLCache[str] = TTLCache(60)

    async def loader() -> str:
        cache.clear()  # e.g. the token was revoked while it was being looked up
        return "stale"

    assert await cache.load("k", loader) == "stale"
    assert cache.get("k") is None


@pytest.mark.parametrize("ttl", [0, -1])
async def test_no_ttl_keeps_nothing(ttl: float) -> None:
    cache: TTLCache[int] = TTLCache(ttl)

    async def loader() -> int:
        return 1

    assert await cache.load("k", loader) == 1
    assert cache.get("k") is None
