"""``database.check``: a health round trip of a database, its engine's version and the
latency of ``samples`` round trips, ``interval_ms`` apart (steps ``connect``, ``version``,
``latency``; it can be canceled between round trips). A database that does not answer is
a ``done`` check with ``reachable: false``."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from dbplane.errors import DatabaseNotFound, DatabaseUnreachable
from dbplane.meta import queries as mq
from dbplane.services.context import AppContext
from dbplane.services.operations.operation_context import OperationContext

__all__ = ["check_database"]


async def check_database(ctx: AppContext, op: OperationContext) -> dict[str, Any]:
    """A health round trip of a database: reachable or not, the engine's version and the
    latency of ``samples`` round trips, ``interval_ms`` apart."""
    samples = int(op.params.get("samples", 3))
    interval = float(op.params.get("interval_ms", 0)) / 1000
    async with ctx.meta.connect() as conn:
        row = await mq.get_database_by_ref(conn, op.database_id or "")
    if row is None:
        raise DatabaseNotFound(op.database_id or "")
    async with op.step("connect"):
        engine = await ctx.connections.engine_for(row)
        health = await engine.health()
        await op.log(f"{row.resource_id} ({row.type_name}): {health.status}")
    if not health.ok:
        return {"reachable": False, "status": health.status, "detail": health.detail,
                "version": None, "samples": 0, "latency_ms": None}
    async with op.step("version"):
        version = await engine.version()
        await op.log(f"version {version}")
    latencies: list[float] = []
    async with op.step("latency"):
        for n in range(samples):
            await op.checkpoint()
            started = time.perf_counter()
            health = await engine.health()
            latencies.append((time.perf_counter() - started) * 1000)
            if not health.ok:
                raise DatabaseUnreachable(f"the database stopped answering during the "
                                          f"check: {health.detail}")
            await op.progress((n + 1) / samples, f"round trip {n + 1}/{samples}")
            if interval and n + 1 < samples:
                await asyncio.sleep(interval)
    await op.log(f"{samples} round trips, average "
                 f"{sum(latencies) / len(latencies):.2f} ms")
    return {"reachable": True, "status": health.status, "detail": None, "version": version,
            "samples": samples,
            "latency_ms": {"min": round(min(latencies), 3), "max": round(max(latencies), 3),
                           "avg": round(sum(latencies) / len(latencies), 3)}}

