"""The queue: starting, reading, listing, cancelling and waiting for operations, in the
metadata store (``dbplane.meta.operations_queries``). What runs them is
``operations.runtime``; a start or a cancel tells this process's runtime at once."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from typing import Any

from dbplane.errors import (
    OperationCanceled,
    OperationConflict,
    OperationNotCancellable,
    OperationNotFound,
)
from dbplane.meta import operations_queries as oq
from dbplane.meta.operation_records import OperationRecord
from dbplane.services.context import AppContext, now_ms
from dbplane.services.operations.public import error_json, jsonable
from dbplane.services.operations.registry import registry_of
from dbplane.services.operations.runtime import runtime_of

__all__ = [
    "STATUSES",
    "active_operations",
    "cancel_operation",
    "get_operation",
    "list_operations",
    "operation_when_ended",
    "start_operation",
    "wait_operation",
]

STATUSES = ("pending", "running", "done", "error", "canceled")


async def start_operation(ctx: AppContext, type_name: str, *, database_id: str | None,
                          params: dict[str, Any], created_by: str | None
                          ) -> OperationRecord:
    """Persist a pending operation and wake a worker; answers it.

    DbplaneError when the type is not registered in this process; OperationConflict (409)
    when an operation of the same conflict group is pending or running on the database."""
    optype = registry_of(ctx).require(type_name)
    slot = (f"{database_id or '-'}:{optype.conflict_group}"
            if optype.conflict_group else None)
    record = OperationRecord(
        id=str(uuid.uuid4()), type=type_name, database_id=database_id, status="pending",
        conflict_slot=slot, params=jsonable(params, "params"), result=None, error=None,
        steps=[], log=[], progress=0.0, message=None, created_by=created_by, owner=None,
        attempts=0, cancel_requested=False, created_at=now_ms(), started_at=None,
        finished_at=None, heartbeat_at=None)
    for _ in range(3):
        try:
            async with ctx.meta.begin() as conn:
                await oq.insert_operation(conn, record)
        except oq.SlotTaken:
            assert slot is not None
            async with ctx.meta.connect() as conn:
                holder = await oq.get_active_in_slot(conn, slot)
            if holder is None:  # it ended in between: try again
                continue
            raise OperationConflict(
                f"operation {holder.id} ({holder.type}) is {holder.status} on "
                f"this database; {type_name} must wait until it ends (or cancel it)",
                operation_id=holder.id, operation_type=holder.type,
                database=database_id) from None
        else:
            break
    else:
        raise OperationConflict(f"operations of the group {optype.conflict_group!r} keep "
                                "starting on this database; try again",
                                database=database_id)
    runtime = runtime_of(ctx)
    if runtime is not None:
        runtime.wake.set()
    return record


async def get_operation(ctx: AppContext, op_id: str) -> OperationRecord:
    """The operation; OperationNotFound (404)."""
    async with ctx.meta.connect() as conn:
        record = await oq.get_operation(conn, op_id)
    if record is None:
        raise OperationNotFound(op_id)
    return record


async def list_operations(ctx: AppContext, *, database_id: str | None = None,
                          status: str | None = None, type_name: str | None = None,
                          limit: int = 100) -> list[OperationRecord]:
    """Operations, newest first, filtered by database id, status and type."""
    async with ctx.meta.connect() as conn:
        return await oq.list_operations(conn, database_id=database_id, status=status,
                                        type_name=type_name, limit=limit)


async def active_operations(ctx: AppContext, database_id: str) -> list[OperationRecord]:
    """The pending and running operations of a database, oldest first."""
    async with ctx.meta.connect() as conn:
        return await oq.list_active_for_database(conn, database_id)


async def cancel_operation(ctx: AppContext, op_id: str) -> OperationRecord:
    """Cancel an operation: a pending one ends ``canceled`` at once; a running one is
    asked to stop (it ends ``canceled`` once its handler has cleaned up).

    OperationNotFound (404); OperationNotCancellable (409) when it has ended or its type
    cannot stop midway."""
    for _ in range(3):
        op = await get_operation(ctx, op_id)
        if op.status == "pending":
            error = error_json(OperationCanceled(f"operation {op_id} was canceled before "
                                                 "it started"))
            async with ctx.meta.begin() as conn:
                canceled = await oq.cancel_pending(conn, op_id, now_ms(), error)
            if canceled:
                runtime = runtime_of(ctx)
                if runtime is not None:
                    runtime.notify_ended()
                return await get_operation(ctx, op_id)
            continue  # a worker claimed it in between
        if op.status == "running":
            optype = registry_of(ctx).get(op.type)
            if optype is not None and not optype.cancellable:
                raise OperationNotCancellable(
                    f"operation {op_id} ({op.type}) cannot be canceled while it "
                    "runs: stopping it midway would leave the database half changed",
                    operation_id=op_id, operation_type=op.type)
            async with ctx.meta.begin() as conn:
                if not await oq.request_cancel(conn, op_id):
                    continue  # it ended in between
            runtime = runtime_of(ctx)
            if runtime is not None:
                runtime.cancel_local(op_id)
            return await get_operation(ctx, op_id)
        raise OperationNotCancellable(f"operation {op_id} has already ended ({op.status})",
                                      operation_id=op_id, state=op.status)
    return await get_operation(ctx, op_id)


async def wait_operation(ctx: AppContext, op_id: str, within: float | None = None,
                         poll: float = 0.1) -> OperationRecord:
    """Wait until the operation has ended and answer it (for services and tests);
    TimeoutError after ``within`` seconds."""
    op = await operation_when_ended(ctx, op_id, within, poll)
    if op.status in oq.ACTIVE:
        raise TimeoutError(f"operation {op_id} is still {op.status}")
    return op


async def operation_when_ended(ctx: AppContext, op_id: str, within: float | None,
                               poll: float = 0.25) -> OperationRecord:
    """The operation as soon as it has ended, or as it is after ``within`` seconds.

    An operation this process runs is answered the moment its end is written; one run by
    another replica is seen at the next read of the store (every ``poll`` seconds). When
    this process begins to stop (``server_closing``, or its workers stopping), the
    operation is answered as it is."""
    deadline = None if within is None else time.monotonic() + within
    while True:
        runtime = runtime_of(ctx)
        ended = runtime.ended if runtime is not None else None  # before the read
        op = await get_operation(ctx, op_id)
        left = poll if deadline is None else min(poll, deadline - time.monotonic())
        if (op.status not in oq.ACTIVE or left <= 0
                or (runtime is not None and (runtime.stopping or runtime.closing))):
            return op
        if ended is None:
            await asyncio.sleep(left)
        else:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(ended.wait(), left)
