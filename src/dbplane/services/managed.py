"""Managed servers: provisioning, starting and stopping, deleting, and what the database
object shows about them.

What a server *is* comes from its engine package's ``managed`` part (a ``ManagedServer``);
where its process runs is the runtime (``engines/runtime.py``, one ``LocalRuntime`` per
process). This module decides; it never names a database type. Supervision (crashes,
restarts, adoption) is ``services/supervisor.py``; deployments ``services/deployments.py``.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dbplane.engines import create_engine_for, engine_class, parse_database_url
from dbplane.engines.managed import ManagedServer, ServerPlan
from dbplane.engines.parts import has_part, part
from dbplane.engines.registry import types_with
from dbplane.engines.runtime import LocalRuntime, ServerRuntime, check_traversable
from dbplane.errors import (
    DatabaseNotFound,
    ManagedServerFailed,
    NotManaged,
    Unsupported,
)
from dbplane.meta import managed_queries as mq
from dbplane.meta.records import DatabaseRecord, ManagedServerRecord
from dbplane.services.context import AppContext, now_ms
from dbplane.services.operations.operation_context import OperationContext

__all__ = [
    "ManagedHandle",
    "check_can_manage",
    "claim_interrupted",
    "delete_server",
    "handle_for",
    "new_server",
    "run_provision",
    "runtime_of",
    "save_server",
    "server_class",
    "start_process",
    "stop_process",
    "wait_ready",
    "write_config",
]

_RUNTIME = "managed.runtime"


def runtime_of(ctx: AppContext) -> ServerRuntime:
    """This process's runtime (local processes under ``settings.managed_root``)."""
    rt = ctx.extensions.get(_RUNTIME)
    if rt is None:
        rt = ctx.extensions[_RUNTIME] = LocalRuntime(ctx.settings.managed_root)
    assert isinstance(rt, LocalRuntime)
    return rt


def _user(ctx: AppContext) -> str | None:
    return ctx.settings.managed_user if os.geteuid() == 0 else None


def server_class(type_name: str) -> ManagedServer:
    """The type's ``ManagedServer``; Unsupported (naming the types that have one) else."""
    cls = engine_class(type_name)
    if not has_part(cls, "managed"):
        raise Unsupported(f"dbplane does not run {cls.label or type_name} servers itself; "
                          "managed databases are of the types "
                          + ", ".join(types_with("managed")),
                          field="mode", type_name=type_name,
                          supported=types_with("managed"))
    server = part(cls, "managed")()
    assert isinstance(server, ManagedServer)
    return server


def check_can_manage(ctx: AppContext, type_name: str) -> None:
    """Refuse before anything is created: the type, and a directory its user can reach."""
    server_class(type_name)
    root = ctx.settings.managed_root
    check_traversable(root / "x", _user(ctx))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class ManagedHandle:
    """A managed database's server, its plan and its current record."""

    row: DatabaseRecord
    record: ManagedServerRecord
    server: ManagedServer
    plan: ServerPlan

    @property
    def url(self) -> str:
        return self.server.url(self.plan)


def new_server(ctx: AppContext, database_id: str, type_name: str,
               resource_id: str) -> tuple[ManagedServerRecord, str]:
    """The record of a server to provision and its connection URL (with a new
    password)."""
    server = server_class(type_name)
    port = _free_port()
    directory = ctx.settings.managed_root / database_id
    plan = ServerPlan(directory, port, secrets.token_urlsafe(24), resource_id, _user(ctx),
                      server.new_options(_free_port))
    stamp = now_ms()
    record = ManagedServerRecord(
        database_id=database_id, type_name=type_name, directory=str(directory), port=port,
        database_name=resource_id, pid=None, desired="running", state="creating",
        detail=None, settings={}, pending={}, features={}, auto_restart=True, restarts=0,
        next_restart_at=None, supervisor=None, lease_until=None, created_at=stamp,
        updated_at=stamp)
    return record, server.url(plan)


async def handle_for(ctx: AppContext, row: DatabaseRecord) -> ManagedHandle:
    """The managed server behind ``row``; NotManaged for another mode."""
    if row.mode != "managed":
        raise NotManaged(f"the database {row.resource_id!r} is {row.mode}: dbplane does "
                         "not run its server", database=row.resource_id)
    async with ctx.meta.connect() as conn:
        record = await mq.get_managed_server(conn, row.id)
    if record is None:
        raise DatabaseNotFound(row.resource_id)
    url = parse_database_url(ctx.secrets.decrypt(row.url_secret))
    options = {k: v for k, v in url.url.query.items() if isinstance(v, str)}
    plan = ServerPlan(Path(record.directory), record.port, url.url.password or "",
                      record.database_name, _user(ctx), options, record.layout or {})
    return ManagedHandle(row, record, server_class(row.type_name), plan)


async def save_server(ctx: AppContext, handle: ManagedHandle, **values: Any) -> None:
    # never the same stamp twice: claim_interrupted tells writes apart by it
    values["updated_at"] = max(now_ms(), handle.record.updated_at + 1)
    async with ctx.meta.begin() as conn:
        await mq.update_managed_server(conn, handle.row.id, values)
        record = await mq.get_managed_server(conn, handle.row.id)
    if record is not None:
        handle.record = record


# how long a claim on undoing an interrupted operation holds: a process that dies while
# it undoes one leaves the work to another after this
SETTLE_LEASE_MS = 300_000


async def claim_interrupted(ctx: AppContext, record: ManagedServerRecord, key: str) -> bool:
    """Take the undoing of the interrupted operation ``record.kept[key]`` describes
    (a server left ``updating``): True for exactly one caller, whichever of this process's
    periodic tasks or another process's read the record first, until the undoing saves
    the record without ``key`` or the claim's lease runs out."""
    info = (record.kept or {}).get(key)
    if record.state != "updating" or not isinstance(info, dict):
        return False
    now = now_ms()
    until = info.get("settling_until")
    if isinstance(until, int) and until > now:
        return False
    kept = {**(record.kept or {}), key: {**info, "settling_until": now + SETTLE_LEASE_MS}}
    async with ctx.meta.begin() as conn:
        return await mq.update_if_unchanged(conn, record.database_id, record.updated_at, {
            "kept": kept, "updated_at": max(now, record.updated_at + 1)})


async def write_config(ctx: AppContext, handle: ManagedHandle,
                       settings: dict[str, str]) -> None:
    """Write the server's configuration file with ``settings``."""
    rt, server, plan = runtime_of(ctx), handle.server, handle.plan
    await asyncio.to_thread(rt.write_config, server.config_path(plan),
                            server.config_text(plan, settings), plan.user)


async def start_process(ctx: AppContext, handle: ManagedHandle) -> int:
    """Start the server's process on its configuration file and record its pid."""
    rt, server, plan = runtime_of(ctx), handle.server, handle.plan
    pid = await asyncio.to_thread(rt.start, server.process(plan))
    await save_server(ctx, handle, pid=pid)
    return pid


async def wait_ready(ctx: AppContext, handle: ManagedHandle, pid: int, *,
                     url: str | None = None) -> float:
    """Wait until the server answers at ``url`` (default its own URL); seconds waited.
    ManagedServerFailed with the end of its log when the process exits or times out."""
    rt, server, plan = runtime_of(ctx), handle.server, handle.plan
    started = time.monotonic()
    deadline = started + ctx.settings.managed_start_timeout_seconds
    engine = create_engine_for(parse_database_url(url or handle.url), timeout=1.0)
    try:
        while True:
            if rt.status(pid, server.marker(plan)) != "running":
                raise ManagedServerFailed(
                    f"the {handle.row.type_name} server exited while starting: "
                    f"{server.log_tail(plan) or 'no log'}", database=handle.row.resource_id)
            if (await engine.health()).ok:
                return time.monotonic() - started
            if time.monotonic() > deadline:
                raise ManagedServerFailed(
                    f"the {handle.row.type_name} server did not answer within "
                    f"{ctx.settings.managed_start_timeout_seconds:.0f} s",
                    database=handle.row.resource_id)
            await asyncio.sleep(0.02)
    finally:
        await engine.close()


async def stop_process(ctx: AppContext, handle: ManagedHandle) -> None:
    """Stop the server's process (its type's signal, then SIGKILL after 30 s)."""
    # close the pools first: a pool that refills itself would race the shutdown
    await ctx.connections.drop(handle.row.id)
    pid = handle.record.pid
    if pid is None:
        return
    rt = runtime_of(ctx)
    if rt.status(pid, handle.server.marker(handle.plan)) == "running":
        await asyncio.to_thread(rt.stop, pid, 30.0, handle.server.stop_signal)


async def run_provision(ctx: AppContext, op: OperationContext) -> dict[str, Any]:
    """``managed.provision``: initialise, configure, start, first database, health check."""
    from dbplane.meta import queries as q

    async with ctx.meta.connect() as conn:
        row = await q.get_database_by_ref(conn, op.database_id or "")
    if row is None:
        raise DatabaseNotFound(op.database_id or "")
    handle = await handle_for(ctx, row)
    rt, server, plan = runtime_of(ctx), handle.server, handle.plan
    pid: int | None = None
    try:
        async with op.step("prepare directory"):
            await asyncio.to_thread(rt.prepare, row.id, plan.user)
        async with op.step("initialise"):
            await asyncio.to_thread(server.initialise, rt, plan)
        async with op.step("start"):
            await write_config(ctx, handle, {})
            pid = await start_process(ctx, handle)
        async with op.step("wait for the server"):
            waited = await _wait_first_start(ctx, handle, pid)
            await op.log(f"answered after {waited:.2f} s")
        async with op.step("create database"):
            await _bootstrap(ctx, handle, pid)
        async with op.step("health check"):
            await wait_ready(ctx, handle, pid)
    except BaseException as exc:
        if pid is not None:
            await asyncio.to_thread(rt.stop, pid, 10.0, server.stop_signal)
        await save_server(ctx, handle, state="error", pid=None, desired="stopped",
                          detail=str(getattr(exc, "detail", None) or exc)[:2000])
        raise
    await save_server(ctx, handle, state="running", detail=None)
    return {"database_id": row.id, "port": plan.port, "directory": str(plan.directory)}


async def _wait_first_start(ctx: AppContext, handle: ManagedHandle, pid: int) -> float:
    """Before the first database and password exist: the port accepts connections."""
    rt = runtime_of(ctx)
    started = time.monotonic()
    deadline = started + ctx.settings.managed_start_timeout_seconds
    while True:
        if rt.status(pid, handle.server.marker(handle.plan)) != "running":
            raise ManagedServerFailed(
                f"the {handle.row.type_name} server exited while starting: "
                f"{handle.server.log_tail(handle.plan) or 'no log'}",
                database=handle.row.resource_id)
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", handle.plan.port)
        except OSError:
            if time.monotonic() > deadline:
                raise ManagedServerFailed("the server did not open its port",
                                          database=handle.row.resource_id) from None
            await asyncio.sleep(0.02)
            continue
        writer.close()
        return time.monotonic() - started


async def _bootstrap(ctx: AppContext, handle: ManagedHandle, pid: int) -> None:
    # a server that has just opened its port may still refuse logins for a moment
    deadline = time.monotonic() + ctx.settings.managed_start_timeout_seconds
    while True:
        try:
            await asyncio.to_thread(handle.server.bootstrap, runtime_of(ctx), handle.plan)
            return
        except ManagedServerFailed:
            if time.monotonic() > deadline or runtime_of(ctx).status(
                    pid, handle.server.marker(handle.plan)) != "running":
                raise
            await asyncio.sleep(0.02)


async def delete_server(ctx: AppContext, row: DatabaseRecord, *, purge: bool) -> str | None:
    """Stop the server; remove its files when ``purge``. The directory kept, else None."""
    handle = await handle_for(ctx, row)
    await stop_process(ctx, handle)
    if purge:
        await asyncio.to_thread(runtime_of(ctx).remove, row.id)
        return None
    return handle.record.directory


@dataclass(frozen=True)
class ManagedView:
    """What the database object shows of a managed server."""

    state: str
    detail: str | None
    record: ManagedServerRecord
    config: dict[str, str]
    server: ManagedServer
    plan: ServerPlan
    """Without the password: where the server is and which build it runs."""


async def managed_view(ctx: AppContext, row: DatabaseRecord) -> ManagedView | None:
    """The server's state, read from its process (a dead process is ``crashed`` at once),
    and its settings as the server reports them now."""
    async with ctx.meta.connect() as conn:
        record = await mq.get_managed_server(conn, row.id)
    if record is None:
        return None
    state, detail = record.state, record.detail
    server = server_class(row.type_name)
    plan = ServerPlan(Path(record.directory), record.port, "", record.database_name,
                      None, layout=record.layout or {})
    if state == "running" and runtime_of(ctx).status(record.pid,
                                                     server.marker(plan)) != "running":
        state, detail = "crashed", "the server's process is not running"
    config: dict[str, str] = {}
    names = sorted(set(record.settings) | set(record.pending))
    if state == "running" and names:
        try:
            url = ctx.secrets.decrypt(row.url_secret)
            found = await asyncio.wait_for(server.catalogue(url, names),
                                           ctx.settings.health_timeout_seconds)
            config = {name: info.value for name, info in found.items()}
        except Exception:  # the health check reports an unreachable server
            config = {}
    return ManagedView(state, detail, record, config, server, plan)
