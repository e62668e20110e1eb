"""Deployments (Qovery's redeploy): redeploy, restart, stop and start a database through
timed steps, each run as a ``deployment`` operation and kept as a history.

A managed server's redeploy writes its configuration (with the settings pending a
restart), stops it, starts it, waits for it to answer and checks the new settings are
live; a failed step puts the previous configuration back and starts the server on it
(``DEPLOYMENT_ERROR`` with the reason). An external or embedded database's redeploy or
restart refreshes dbplane's side only (pool, cached settings, health check), and its steps
say so. One deployment runs per database at a time: a second is refused with 409 naming
the one that runs.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Literal

from dbplane.errors import (
    DatabaseNotFound,
    DbplaneError,
    DeploymentConflict,
    DeploymentNotFound,
    ManagedServerFailed,
    NotManaged,
    OperationConflict,
)
from dbplane.meta import managed_queries as mq
from dbplane.meta import queries as q
from dbplane.meta.records import DatabaseRecord, DeploymentRecord
from dbplane.services import managed, managed_features
from dbplane.services.context import AppContext, now_ms
from dbplane.services.databases import resolve_database
from dbplane.services.operations import start_operation
from dbplane.services.operations.operation_context import OperationContext

__all__ = [
    "ACTIONS",
    "get_deployment",
    "list_deployments",
    "public_deployment",
    "run_deployment",
    "service_status",
    "start_deployment",
]

Action = Literal["redeploy", "restart", "stop", "start"]

# request → (Qovery's status_details.action, queued, running, done, failed)
ACTIONS: dict[str, tuple[str, str, str, str, str]] = {
    "redeploy": ("DEPLOY", "DEPLOYMENT_QUEUED", "DEPLOYING", "DEPLOYED", "DEPLOYMENT_ERROR"),
    "start": ("DEPLOY", "DEPLOYMENT_QUEUED", "DEPLOYING", "DEPLOYED", "DEPLOYMENT_ERROR"),
    "restart": ("RESTART", "RESTART_QUEUED", "RESTARTING", "RESTARTED", "RESTART_ERROR"),
    "stop": ("STOP", "STOP_QUEUED", "STOPPING", "STOPPED", "STOP_ERROR"),
}
_KIND_OF = {"DEPLOY": "redeploy", "RESTART": "restart", "STOP": "stop"}


async def start_deployment(ctx: AppContext, ref: str, action: Action,
                           created_by: str | None) -> dict[str, Any]:
    """Queue a deployment and its operation; the deployment object (state ``…_QUEUED``).

    NotManaged for stop/start of a database dbplane does not run; DeploymentConflict
    (409) naming the deployment or operation that runs on the database now."""
    row = await resolve_database(ctx, ref)
    if action in ("stop", "start") and row.mode != "managed":
        raise NotManaged(f"the database {row.resource_id!r} is {row.mode}: dbplane cannot "
                         f"{action} its server (redeploy and restart refresh dbplane's side)",
                         database=row.resource_id)
    async with ctx.meta.connect() as conn:
        running = await mq.active_deployment(conn, row.id)
    if running is not None:
        raise _conflict(row, running.id, running.state)
    code, queued = ACTIONS[action][0], ACTIONS[action][1]
    stamp = now_ms()
    record = DeploymentRecord(
        id=str(uuid.uuid4()), database_id=row.id, action=code, state=queued,
        operation_id=None, request_id=str(uuid.uuid4()), steps=(), error=None,
        created_at=stamp, started_at=None, finished_at=None)
    async with ctx.meta.begin() as conn:
        await mq.insert_deployment(conn, record)
    try:
        op = await start_operation(ctx, "deployment", database_id=row.id,
                                   params={"deployment_id": record.id, "action": action},
                                   created_by=created_by)
    except OperationConflict as exc:
        async with ctx.meta.begin() as conn:
            await mq.update_deployment(conn, record.id, {
                "state": "CANCELED", "finished_at": now_ms(),
                "error": {"message": exc.detail}})
        holder = exc.fields.get("operation_id")
        raise DeploymentConflict(
            f"operation {holder} ({exc.fields.get('operation_type')}) is running on "
            f"{row.resource_id!r}; the {action} must wait until it ends",
            database=row.resource_id, operation_id=holder) from None
    async with ctx.meta.begin() as conn:
        await mq.update_deployment(conn, record.id, {"operation_id": op.id})
    return await get_deployment(ctx, row.id, record.id)


def _conflict(row: DatabaseRecord, deployment_id: str, state: str) -> DeploymentConflict:
    return DeploymentConflict(
        f"deployment {deployment_id} is {state} on {row.resource_id!r}; wait until it "
        "ends", database=row.resource_id, deployment_id=deployment_id,
        deployment_state=state)


async def list_deployments(ctx: AppContext, ref: str) -> list[dict[str, Any]]:
    """The database's deployments, newest first (Qovery's deployment history)."""
    row = await resolve_database(ctx, ref)
    async with ctx.meta.connect() as conn:
        records = await mq.list_deployments(conn, row.id)
    status = await _deployment_status(ctx, row, records)
    return [public_deployment(r, records, status) for r in records]


async def get_deployment(ctx: AppContext, ref: str, deployment_id: str) -> dict[str, Any]:
    row = await resolve_database(ctx, ref)
    async with ctx.meta.connect() as conn:
        records = await mq.list_deployments(conn, row.id)
    found = next((r for r in records if r.id == deployment_id), None)
    if found is None:
        raise DeploymentNotFound(f"the database {row.resource_id!r} has no deployment "
                                 f"{deployment_id}", deployment_id=deployment_id)
    return public_deployment(found, records, await _deployment_status(ctx, row, records))


async def service_status(ctx: AppContext, ref: str) -> dict[str, Any]:
    """Qovery's status object of the database: its last deployment's state, or the
    server's state when it was never deployed."""
    row = await resolve_database(ctx, ref)
    async with ctx.meta.connect() as conn:
        records = await mq.list_deployments(conn, row.id)
        server = await mq.get_managed_server(conn, row.id)
    status = await _deployment_status(ctx, row, records)
    last = records[0] if records else None
    if last is not None:
        state = last.state
    elif server is not None:
        state = {"running": "DEPLOYED", "stopped": "STOPPED", "creating": "DEPLOYING",
                 "error": "DEPLOYMENT_ERROR"}.get(server.state, "READY")
    else:
        state = "READY"
    finished = [r.finished_at for r in records if r.finished_at]
    return {
        "id": row.id, "state": state, "service_deployment_status": status,
        "last_deployment_date": _iso(max(finished)) if finished else None,
        "is_part_last_deployment": last is not None,
        "status_details": _status_details(last) if last else None,
        "deployment_request_id": last.request_id if last else None,
        "execution_id": last.operation_id if last else None,
    }


async def _deployment_status(ctx: AppContext, row: DatabaseRecord,
                             records: list[DeploymentRecord]) -> str:
    if row.mode == "managed":
        async with ctx.meta.connect() as conn:
            server = await mq.get_managed_server(conn, row.id)
        if server is not None and server.pending:
            return "OUT_OF_DATE"
        return "UP_TO_DATE"
    done = {ACTIONS[a][3] for a in ACTIONS}
    return "UP_TO_DATE" if any(r.state in done for r in records) else "NEVER_DEPLOYED"


def _iso(ms: int) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat(timespec="milliseconds")


def _status_details(record: DeploymentRecord) -> dict[str, str]:
    _, queued, running, done, failed = ACTIONS[_KIND_OF[record.action]]
    status = {queued: "QUEUED", running: "ONGOING", done: "SUCCESS", failed: "ERROR",
              "CANCELED": "CANCELED"}.get(record.state, "ONGOING")
    return {"action": record.action, "status": status, "sub_action": "NONE"}


def public_deployment(record: DeploymentRecord, history: list[DeploymentRecord],
                      service_deployment_status: str) -> dict[str, Any]:
    """The Qovery deployment object."""
    details = [{"step_name": s["step_name"], "status": s["status"],
                "duration_sec": s["duration_sec"]} for s in record.steps]
    total = sum(float(s["duration_sec"]) for s in record.steps)
    finished = [r.finished_at for r in history if r.finished_at]
    return {
        "id": record.id,
        "state": record.state,
        "service_deployment_status": service_deployment_status,
        "is_part_last_deployment": bool(history) and history[0].id == record.id,
        "status_details": _status_details(record),
        "deployment_request_id": record.request_id,
        "deployment_requests_count": len(history),
        "last_deployment_date": _iso(max(finished)) if finished else None,
        "steps": {"total_duration_sec": round(total, 3),
                  "total_computing_duration_sec": round(
                      ((record.finished_at or now_ms()) - record.started_at) / 1000, 3)
                  if record.started_at else 0.0,
                  "details": details},
        "execution_id": record.operation_id,
        "operation_id": record.operation_id,
        "database_id": record.database_id,
        "created_at": _iso(record.created_at),
        "error": record.error,
    }


class _Steps:
    """The deployment's timed steps, written to its row as each ends."""

    def __init__(self, ctx: AppContext, op: OperationContext, deployment_id: str) -> None:
        self.ctx, self.op, self.id = ctx, op, deployment_id
        self.done: list[dict[str, Any]] = []

    async def _save(self, **values: Any) -> None:
        async with self.ctx.meta.begin() as conn:
            await mq.update_deployment(conn, self.id,
                                       {"steps": self.done, **values})

    @asynccontextmanager
    async def step(self, name: str) -> AsyncIterator[None]:
        started = time.monotonic()
        try:
            async with self.op.step(name.lower().replace("_", " ")):
                yield
        except BaseException:
            self.done.append({"step_name": name, "status": "ERROR",
                              "duration_sec": round(time.monotonic() - started, 3)})
            await self._save()
            raise
        self.done.append({"step_name": name, "status": "SUCCESS",
                          "duration_sec": round(time.monotonic() - started, 3)})
        await self._save()

    async def skip(self, name: str) -> None:
        self.done.append({"step_name": name, "status": "SKIP", "duration_sec": 0.0})
        await self._save()


async def run_deployment(ctx: AppContext, op: OperationContext) -> dict[str, Any]:
    """``deployment``: run a queued deployment's steps (see the module's docstring)."""
    deployment_id = str(op.params["deployment_id"])
    action: str = str(op.params["action"])
    async with ctx.meta.connect() as conn:
        row = await q.get_database_by_ref(conn, op.database_id or "")
    if row is None:
        raise DatabaseNotFound(op.database_id or "")
    _, _, running, done, failed = ACTIONS[action]
    async with ctx.meta.begin() as conn:
        await mq.update_deployment(conn, deployment_id, {"state": running,
                                                         "started_at": now_ms()})
    steps = _Steps(ctx, op, deployment_id)
    try:
        if row.mode == "managed":
            await _managed_steps(ctx, row, action, steps)
        else:
            await _refresh_steps(ctx, row, steps)
    except BaseException as exc:
        message = exc.detail if isinstance(exc, DbplaneError) else str(exc)
        await steps._save(state=failed, finished_at=now_ms(),
                          error={"message": message,
                                 "code": getattr(exc, "code", None)})
        raise
    await steps._save(state=done, finished_at=now_ms())
    return {"deployment_id": deployment_id, "state": done}


async def _refresh_steps(ctx: AppContext, row: DatabaseRecord, steps: _Steps) -> None:
    """An external or embedded database: dbplane's side only."""
    async with steps.step("REFRESH_CONNECTION_POOL"):
        await ctx.connections.drop(row.id)
    async with steps.step("REFRESH_CACHED_SETTINGS"):
        ctx.database_rows.clear()
    async with steps.step("HEALTH_CHECK"):
        health = await (await ctx.connections.engine_for(row)).health()
        if not health.ok:
            raise ManagedServerFailed(f"the database does not answer: {health.detail}",
                                      database=row.resource_id)


async def _managed_steps(ctx: AppContext, row: DatabaseRecord, action: str,
                         steps: _Steps) -> None:
    handle = await managed.handle_for(ctx, row)
    record = handle.record
    old = dict(record.settings)
    new = {**old, **{k: str(v["new_value"]) for k, v in record.pending.items()
                     if v.get("new_value") is not None}}
    if action == "restart":
        new = old
    alive = handle.record.pid is not None and managed.runtime_of(ctx).status(
        handle.record.pid, handle.server.marker(handle.plan)) == "running"
    await managed.save_server(ctx, handle, state="updating")
    try:
        if action == "stop":
            async with steps.step("STOP"):
                await managed.save_server(ctx, handle, desired="stopped")
                await managed.stop_process(ctx, handle)
            await managed.save_server(ctx, handle, state="stopped", pid=None, detail=None)
            return
        if action != "start" or alive:
            async with steps.step("STOP"):
                await managed.stop_process(ctx, handle)
        else:
            await steps.skip("STOP")
        try:
            async with steps.step("WRITE_CONFIGURATION"):
                await managed.write_config(ctx, handle, new)
            async with steps.step("START"):
                pid = await managed.start_process(ctx, handle)
            async with steps.step("HEALTH_CHECK"):
                await managed.wait_ready(ctx, handle, pid)
            async with steps.step("VERIFY_SETTINGS_LIVE"):
                await _verify(handle, new, record.pending)
            if action != "restart" and any(
                    str(f.get("status", "")).startswith("PENDING")
                    for f in record.features.values()):
                async with steps.step("FINISH_FEATURES"):
                    await managed_features.finish_features(ctx, handle)
        except DbplaneError as exc:
            await managed_features.fail_features(ctx, handle, exc.detail)
            await _rollback(ctx, handle, old, steps)
            await managed.save_server(
                ctx, handle, state="running", desired="running",
                detail=f"the last deployment failed and was rolled back: {exc.detail}")
            raise
        await managed.save_server(ctx, handle, state="running", desired="running",
                                  settings=new, pending={} if action != "restart"
                                  else record.pending, detail=None, restarts=0)
    except BaseException:
        if handle.record.state == "updating":
            await managed.save_server(ctx, handle, state="error")
        raise


async def _rollback(ctx: AppContext, handle: managed.ManagedHandle, old: dict[str, str],
                    steps: _Steps) -> None:
    async with steps.step("ROLLBACK"):
        await managed.stop_process(ctx, handle)
        await managed.write_config(ctx, handle, old)
        pid = await managed.start_process(ctx, handle)
        await managed.wait_ready(ctx, handle, pid)


async def _verify(handle: managed.ManagedHandle, new: dict[str, str],
                  pending: dict[str, dict[str, str | None]]) -> None:
    """Each pending setting reads back changed from its old value."""
    if not pending:
        return
    live = await handle.server.catalogue(handle.url, list(pending))
    for name, change in pending.items():
        now = live.get(name)
        if now is None:
            continue
        if now.value != change.get("new_value") and now.value == change.get("old_value"):
            raise ManagedServerFailed(f"the setting {name} still runs with "
                                      f"{now.value!r} after the restart",
                                      database=handle.row.resource_id, setting=name)
