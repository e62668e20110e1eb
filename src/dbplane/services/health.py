"""Health of dbplane itself: its metadata store answers."""

from __future__ import annotations

import asyncio

from dbplane.errors import Unavailable
from dbplane.services.context import AppContext

__all__ = ["check_metadata_store"]


async def check_metadata_store(ctx: AppContext) -> None:
    """A round trip to the metadata store; Unavailable (503) when it does not answer."""
    try:
        async with asyncio.timeout(ctx.settings.health_timeout_seconds):
            await ctx.meta.ping()
    except Exception as exc:
        raise Unavailable("the metadata store does not answer") from exc
