"""Periodic tasks (the backup scheduler): each registered task runs in every dbplane
process's worker loop, first at start-up, then every ``interval_seconds``, until the
process's workers stop. Its errors are logged, never fatal."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from dbplane.services.context import AppContext
from dbplane.services.operations.registry import Periodic, registry_of

__all__ = ["run_periodic", "start_periodic"]

log = logging.getLogger("dbplane.operations")


async def run_periodic(ctx: AppContext, job: Periodic, stopping: Callable[[], bool]) -> None:
    """Run ``job`` every ``job.interval_seconds`` until ``stopping()``."""
    while not stopping():
        try:
            await job.fn(ctx)
        except Exception:
            log.exception("periodic task %s failed", job.name)
        await asyncio.sleep(job.interval_seconds)


def start_periodic(ctx: AppContext, stopping: Callable[[], bool]) -> list[asyncio.Task[None]]:
    """One task per periodic task registered in the process (cancel them to stop)."""
    return [asyncio.create_task(run_periodic(ctx, job, stopping), name=f"periodic {job.name}")
            for job in registry_of(ctx).periodic()]
