"""Supervision of managed servers: a periodic task in every dbplane process that notices a
dead server at once (``crashed``), restarts it with a back-off when ``auto_restart`` is on,
and adopts after a restart of dbplane the servers still running (their pid and command
line match) instead of starting them twice.

Replicas share the work through a lease per server in the metadata store
(``supervisor``, ``lease_until``): only the holder checks and restarts a server, and
another replica takes it over when the holder stops renewing it. A server whose
deployment or provisioning runs (``updating``, ``creating``) is left to that operation.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from pathlib import Path

from dbplane.engines.managed import ServerPlan
from dbplane.errors import DbplaneError
from dbplane.meta import managed_queries as mq
from dbplane.meta import queries as q
from dbplane.meta.records import ManagedServerRecord
from dbplane.services import managed
from dbplane.services.context import AppContext, now_ms
from dbplane.services.operations import process_owner

__all__ = ["INTERVAL_SECONDS", "backoff_seconds", "owner_of", "release", "supervise"]

log = logging.getLogger("dbplane.managed")

INTERVAL_SECONDS = 0.2
"""How often the periodic task wakes; it checks at ``managed_supervise_seconds``."""

_LAST = "managed.supervisor.last"
_FALLBACK_OWNER = f"{socket.gethostname()}:{os.getpid()}"


def backoff_seconds(restarts: int) -> float:
    """The wait before the next automatic restart: 0.5 s doubling to at most 30 s."""
    return float(min(30.0, 0.5 * 2 ** min(restarts, 6)))


def _owner(ctx: AppContext) -> str:
    return process_owner(ctx) or _FALLBACK_OWNER


async def supervise(ctx: AppContext) -> None:
    """One pass over the managed servers (the ``managed.supervisor`` periodic task)."""
    last = ctx.extensions.get(_LAST, 0.0)
    if time.monotonic() - last < ctx.settings.managed_supervise_seconds:
        return
    ctx.extensions[_LAST] = time.monotonic()
    async with ctx.meta.connect() as conn:
        records = await mq.list_managed_servers(conn)
    for record in records:
        if record.desired != "running" or record.state not in ("running", "crashed"):
            continue
        try:
            await _check(ctx, record)
        except Exception:
            log.exception("supervising the server of %s failed", record.database_id)


async def _check(ctx: AppContext, record: ManagedServerRecord) -> None:
    now = now_ms()
    lease = int(ctx.settings.managed_lease_seconds * 1000)
    async with ctx.meta.begin() as conn:
        if not await mq.renew_supervision(conn, record.database_id, _owner(ctx), now,
                                          now + lease):
            return
    server = managed.server_class(record.type_name)
    plan = ServerPlan(Path(record.directory), record.port, "", record.database_name, None,
                      layout=record.layout or {})
    if managed.runtime_of(ctx).status(record.pid, server.marker(plan)) == "running":
        return  # running, or adopted after a restart of dbplane: nothing to do
    if record.state == "running":
        async with ctx.meta.begin() as conn:
            changed = await mq.set_state_if(
                conn, record.database_id, state="running", pid=record.pid,
                values={"state": "crashed", "updated_at": now,
                        "detail": f"the server's process ({record.pid}) is gone; "
                        + server.log_tail(plan, 300),
                        "next_restart_at": now + int(
                            1000 * backoff_seconds(record.restarts))})
        if changed:
            log.warning("the managed server of %s exited", record.database_id)
        return
    if not record.auto_restart or (record.next_restart_at or 0) > now:
        return
    await _restart(ctx, record)


async def _restart(ctx: AppContext, record: ManagedServerRecord) -> None:
    async with ctx.meta.connect() as conn:
        row = await q.get_database_by_ref(conn, record.database_id)
    if row is None:
        return
    handle = await managed.handle_for(ctx, row)
    async with ctx.meta.begin() as conn:  # claim the restart: a deployment may start now
        if not await mq.set_state_if(conn, record.database_id, state="crashed",
                                     pid=record.pid, values={"state": "updating"}):
            return
    restarts = record.restarts + 1
    try:
        pid = await managed.start_process(ctx, handle)
        await managed.wait_ready(ctx, handle, pid)
    except DbplaneError as exc:
        await managed.save_server(
            ctx, handle, state="crashed", restarts=restarts, pid=handle.record.pid,
            detail=f"restart {restarts} failed: {exc.detail}",
            next_restart_at=now_ms() + int(1000 * backoff_seconds(restarts)))
        return
    await managed.save_server(ctx, handle, state="running", restarts=restarts,
                              next_restart_at=None,
                              detail=None)
    await ctx.connections.drop(row.id)
    log.warning("restarted the managed server of %s (restart %d)", row.id, restarts)


def owner_of(ctx: AppContext) -> str:
    """The name this process holds supervision leases under."""
    return _owner(ctx)


async def release(ctx: AppContext, owner: str) -> None:
    """Give up ``owner``'s leases (at shutdown, once the periodic tasks have stopped), so
    another replica takes over at once. The servers keep running."""
    try:
        async with ctx.meta.begin() as conn:
            await mq.release_supervision(conn, owner)
    except Exception:  # a store gone at shutdown: the leases run out on their own
        log.warning("could not release the supervision leases of %s", owner)
