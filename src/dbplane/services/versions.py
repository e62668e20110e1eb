"""Which build a managed server runs and which newer ones it could move to (the
database object's ``version_id`` / ``next_version_id`` and ``GET .../versions``)."""

from __future__ import annotations

import asyncio

from dbplane.engines import engine_class
from dbplane.engines.managed import ManagedServer, ServerPlan
from dbplane.engines.parts import has_part
from dbplane.engines.versions import Installation

__all__ = ["next_of", "survey"]


async def survey(server: ManagedServer, plan: ServerPlan
                 ) -> tuple[Installation | None, list[Installation]]:
    """The build ``plan``'s server runs and every newer one its type can upgrade to
    (oldest first; none for a type without the ``upgrade`` part)."""
    def look() -> tuple[Installation | None, list[Installation]]:
        current = server.installation_of(plan)
        if current is None or not has_part(engine_class(server.type_name), "upgrade"):
            return current, []
        return current, [i for i in server.installations() if i.version > current.version]

    return await asyncio.to_thread(look)


def next_of(current: Installation, newer: list[Installation]) -> Installation | None:
    """The next version: the newest build of the lowest newer major (15 → the newest 16,
    not 17), as an upgrade moves one major at a time unless told otherwise."""
    if not newer:
        return None
    major = min(i.version[0] for i in newer)
    return max((i for i in newer if i.version[0] == major), key=lambda i: i.version)
